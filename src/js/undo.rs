//! `UndoManager`: yrs's undo manager over a set of shared types, with Yjs's options.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use yrs::Transact;

use crate::js::error::{ApiError, ApiResult};
use crate::js::shared::DocShared;
use crate::js::types::scope_of;

/// yrs reads the time to group edits (`captureTimeout`); `SystemTime` panics in wasm32.
struct WebClock;

impl yrs::sync::Clock for WebClock {
    fn now(&self) -> yrs::sync::time::Timestamp {
        crate::web::clock::now_ms()
    }
}

/// Undo and redo of the changes made to a set of shared types (`Y.UndoManager`).
///
/// Tracks transactions whose origin is in `trackedOrigins` (default `[null]`: edits made
/// without an origin). Remote changes are never undone.
#[wasm_bindgen]
pub struct UndoManager {
    shared: Rc<DocShared>,
    um: RefCell<Option<yrs::UndoManager>>,
    /// Origin keys pinned for the tracked JS origins.
    pinned: Vec<String>,
    origin: JsValue,
    own_origin: Vec<u8>,
}

#[wasm_bindgen]
impl UndoManager {
    /// `new UndoManager(scope, { captureTimeout?, trackedOrigins? })`: `scope` is a shared
    /// type or an array of them (of one document).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "SharedType | SharedType[]")] scope: JsValue,
        options: Option<crate::js::ts::UndoManagerOptionsArg>,
    ) -> ApiResult<UndoManager> {
        let options = crate::js::ts::or_undefined(options);
        let items: Vec<JsValue> = if js_sys::Array::is_array(&scope) {
            js_sys::Array::from(&scope).iter().collect()
        } else {
            vec![scope]
        };
        let mut branches = Vec::new();
        let mut doc: Option<Rc<DocShared>> = None;
        for item in &items {
            let (shared, branch) = scope_of(item)?;
            if doc.as_ref().is_some_and(|d| !Rc::ptr_eq(d, &shared)) {
                return Err(ApiError::InvalidArgument(
                    "the scope must be shared types of one Doc".into(),
                ));
            }
            doc = Some(shared);
            branches.push(branch);
        }
        let shared = doc.ok_or_else(|| {
            ApiError::InvalidArgument("the scope must hold at least one shared type".into())
        })?;
        let get = |k: &str| {
            if options.is_object() {
                js_sys::Reflect::get(&options, &k.into()).unwrap_or_default()
            } else {
                JsValue::UNDEFINED
            }
        };
        let timeout = get("captureTimeout");
        let capture_timeout_millis = if timeout.is_undefined() {
            500
        } else {
            timeout
                .as_f64()
                .filter(|n| *n >= 0.0 && n.is_finite())
                .ok_or_else(|| {
                    ApiError::InvalidArgument("captureTimeout must be a number >= 0".into())
                })? as u64
        };
        let tracked = get("trackedOrigins");
        let tracked: Vec<JsValue> = if tracked.is_undefined() {
            vec![JsValue::NULL]
        } else {
            js_sys::Array::from(&tracked).iter().collect()
        };
        let with_null = tracked.iter().any(|v| v.is_null() || v.is_undefined());
        let others: Vec<&JsValue> = tracked
            .iter()
            .filter(|v| !v.is_null() && !v.is_undefined())
            .collect();
        if with_null && !others.is_empty() {
            // yrs tracks transactions without an origin only when no origin is tracked.
            return Err(ApiError::InvalidArgument(
                "trackedOrigins cannot mix null with other origins here: give those edits an \
                 origin with doc.transact(fn, origin) and track it"
                    .into(),
            ));
        }
        if tracked.is_empty() {
            return Err(ApiError::InvalidArgument(
                "trackedOrigins is empty: nothing would be undoable".into(),
            ));
        }
        if shared.in_transaction() {
            return Err(ApiError::Busy);
        }
        let pinned: Vec<String> = others
            .iter()
            .map(|v| shared.acquire_origin(v, crate::core::origin::Origin::App))
            .collect();
        let tracked_origins: HashSet<yrs::Origin> = pinned
            .iter()
            .map(|k| yrs::Origin::from(k.as_str()))
            .collect();
        let mut um = yrs::UndoManager::with_options(yrs::undo::Options {
            capture_timeout_millis,
            tracked_origins,
            capture_transaction: None,
            timestamp: Arc::new(WebClock),
            init_undo_stack: Vec::new(),
            init_redo_stack: Vec::new(),
        });
        for b in &branches {
            um.expand_scope(shared.doc.ydoc(), b);
        }
        let own_origin = um.as_origin().as_ref().to_vec();
        let origin: JsValue = js_sys::Object::freeze(&js_sys::Object::new()).into();
        shared.register_origin(&own_origin, origin.clone());
        Ok(UndoManager {
            shared,
            um: RefCell::new(Some(um)),
            pinned,
            origin,
            own_origin,
        })
    }

    fn step(&self, undo: bool) -> ApiResult<bool> {
        // yrs opens its own write transaction and would panic if one were open.
        if self.shared.in_transaction() {
            return Err(ApiError::Busy);
        }
        drop(
            self.shared
                .doc
                .ydoc()
                .try_transact_mut()
                .map_err(|_| ApiError::Busy)?,
        );
        let changed = {
            let mut um = self.um.borrow_mut();
            let um = um.as_mut().ok_or(ApiError::Destroyed)?;
            if undo {
                um.undo_blocking()
            } else {
                um.redo_blocking()
            }
        };
        self.shared.flush().map_err(ApiError::Listener)?;
        Ok(changed)
    }

    /// Undoes the last tracked change; false if there was none.
    pub fn undo(&self) -> ApiResult<bool> {
        self.step(true)
    }

    /// Redoes the last undone change; false if there was none.
    pub fn redo(&self) -> ApiResult<bool> {
        self.step(false)
    }

    /// Whether there is something to undo.
    #[wasm_bindgen(js_name = canUndo)]
    pub fn can_undo(&self) -> bool {
        self.um.borrow().as_ref().is_some_and(|u| u.can_undo())
    }

    /// Whether there is something to redo.
    #[wasm_bindgen(js_name = canRedo)]
    pub fn can_redo(&self) -> bool {
        self.um.borrow().as_ref().is_some_and(|u| u.can_redo())
    }

    /// The next change starts a new undo step even within `captureTimeout`.
    #[wasm_bindgen(js_name = stopCapturing)]
    pub fn stop_capturing(&self) {
        if let Some(u) = self.um.borrow_mut().as_mut() {
            u.reset();
        }
    }

    /// Forgets both stacks.
    pub fn clear(&self) -> ApiResult<()> {
        if self.shared.in_transaction() {
            return Err(ApiError::Busy);
        }
        if let Some(u) = self.um.borrow_mut().as_mut() {
            u.clear_all();
        }
        Ok(())
    }

    /// The origin of undo and redo transactions in events (Yjs uses the manager itself;
    /// compare `transaction.origin === undoManager.origin`).
    #[wasm_bindgen(getter, unchecked_return_type = "object")]
    pub fn origin(&self) -> JsValue {
        self.origin.clone()
    }

    /// Stops tracking; the manager cannot be used afterwards.
    pub fn destroy(&self) {
        let um = self.um.borrow_mut().take();
        self.release(um);
    }
}

impl UndoManager {
    fn release(&self, um: Option<yrs::UndoManager>) {
        let Some(um) = um else { return };
        // Dropping it unsubscribes from the document, which yrs refuses inside a transaction.
        if self.shared.in_transaction() {
            self.shared.document().drop_later(Box::new(um));
        } else {
            drop(um);
        }
        for k in &self.pinned {
            self.shared.release_origin(k);
        }
        self.shared.unregister_origin(&self.own_origin);
    }
}

impl Drop for UndoManager {
    fn drop(&mut self) {
        let um = self.um.get_mut().take();
        self.release(um);
    }
}
