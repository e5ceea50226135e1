//! `YjsReplica`: the ysync document behind an app's own Yjs `Y.Doc`, for the `ysync/yjs`
//! entry (npm/yjs.js), which owns the `Y.Doc` side (yjs is the app's, never bundled here).
//! The entry feeds every update the `Y.Doc` makes to `applyLocal`; the replica syncs and
//! stores them as local edits and calls `forward(update, origin)` with what the server, other
//! tabs and storage bring (routing in `core::mirror`).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use yrs::ReadTxn;

use crate::core::mirror::{Mirror, Route};
use crate::js::doc::Doc;
use crate::js::error::{ApiError, ApiResult};
use crate::js::shared::{DocShared, Queued};

/// The replica of an app's `Y.Doc` (used by `ysync/yjs`; apps use that entry, not this, so
/// it is left out of the typings).
#[wasm_bindgen(skip_typescript)]
pub struct YjsReplica {
    shared: Rc<DocShared>,
    mirror: Rc<RefCell<Mirror>>,
    key: String,
    tap_id: u64,
}

/// Queues the pass-back of everything storage loaded since the first restore transaction, as
/// one update encoded when it runs.
fn pass_back_restored(
    shared: Weak<DocShared>,
    mirror: Weak<RefCell<Mirror>>,
    forward: js_sys::Function,
    origin: JsValue,
) -> Queued {
    Queued::Run(Box::new(move || {
        let (Some(shared), Some(mirror)) = (shared.upgrade(), mirror.upgrade()) else {
            return Ok(());
        };
        let Some(since) = mirror.borrow_mut().take_restored() else {
            return Ok(());
        };
        let update = {
            let txn = shared.read().map_err(JsValue::from)?;
            txn.encode_state_as_update_v1(&since)
        };
        forward
            .call2(
                &JsValue::NULL,
                &js_sys::Uint8Array::from(&update[..]).into(),
                &origin,
            )
            .map(|_| ())
    }))
}

#[wasm_bindgen]
impl YjsReplica {
    /// Mirrors an app's `Y.Doc` into `doc` (made with the `Y.Doc`'s client ID, and written
    /// only through `applyLocal` from now on). `forward(update, origin)` is called, outside
    /// any transaction, with every update `doc` gets from elsewhere; `origin` is the
    /// provider's or persistence's `origin` object.
    #[wasm_bindgen(constructor, skip_typescript)]
    pub fn new(doc: &Doc, forward: js_sys::Function) -> YjsReplica {
        let shared = doc.shared();
        let mirror = Rc::new(RefCell::new(
            Mirror::new(crate::core::origin::next_number()),
        ));
        let key = mirror.borrow().origin();
        let hub = Rc::downgrade(&shared.hub);
        let (weak_doc, weak_mirror) = (Rc::downgrade(&shared), Rc::downgrade(&mirror));
        let tap_id = shared.document().tap.add(move |t| {
            let (Some(hub), Some(m)) = (hub.upgrade(), weak_mirror.upgrade()) else {
                return;
            };
            let route = m.borrow_mut().route(t.origin(), t.txn().before_state());
            match route {
                Route::Skip | Route::Restore { first: false } => {}
                Route::Restore { first: true } => hub.push(pass_back_restored(
                    weak_doc.clone(),
                    weak_mirror.clone(),
                    forward.clone(),
                    hub.origin(t.txn()),
                )),
                Route::Forward => {
                    let args = js_sys::Array::of2(
                        &js_sys::Uint8Array::from(&t.update()[..]),
                        &hub.origin(t.txn()),
                    );
                    hub.push(Queued::Call(forward.clone(), args));
                }
            }
        });
        YjsReplica {
            shared,
            mirror,
            key,
            tap_id,
        }
    }

    /// Applies an update the `Y.Doc` made (its `update` event) as a local edit: sent to the
    /// server, counted until acknowledged, stored. Its bytes are what the replica's own
    /// consumers get: it is not encoded again.
    #[wasm_bindgen(js_name = applyLocal, skip_typescript)]
    pub fn apply_local(&self, update: &[u8]) -> ApiResult<()> {
        if self.shared.in_transaction() {
            return Err(ApiError::Busy);
        }
        let bytes: Rc<[u8]> = Rc::from(update);
        self.shared
            .document()
            .apply_gated(&self.key, &bytes, Some(&bytes))
    }

    /// Stops passing updates back (the `Y.Doc` was destroyed).
    #[wasm_bindgen(skip_typescript)]
    pub fn destroy(&mut self) {
        if self.tap_id != 0 {
            self.shared.document().tap.remove(self.tap_id);
            self.tap_id = 0;
            self.mirror.borrow_mut().take_restored();
        }
    }
}

impl Drop for YjsReplica {
    fn drop(&mut self) {
        self.destroy();
    }
}
