//! Web Locks (`navigator.locks`): an exclusive lock of the tabs of this origin, by name,
//! asked for now and held from when it is granted until the [`Lock`] is dropped. The browser
//! releases it too when the tab closes or its process dies. Dropping a request not granted
//! yet withdraws it.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

type Granted = Closure<dyn FnMut(JsValue) -> JsValue>;

/// What asking for a lock only if it is free gave.
pub enum TryLock {
    /// This tab holds it now.
    Held(Lock),
    /// Another tab holds it.
    Busy,
    /// No Web Locks in this browser.
    Unsupported,
}
type Refused = Closure<dyn FnMut(JsValue)>;

struct Inner {
    /// Called with whether the lock was granted (false only for a request made only if free).
    on_granted: Option<Box<dyn FnOnce(bool)>>,
    /// Resolves the promise the grant callback returned: the browser then releases the lock.
    release: Option<js_sys::Function>,
    dropped: bool,
    /// The callbacks the browser holds. They keep `Inner` alive until one of them runs (the
    /// grant, or the rejection of a withdrawn request), which lets them go.
    callbacks: Option<(Granted, Refused)>,
}

/// An exclusive Web Lock, asked for or held.
pub struct Lock {
    inner: Rc<RefCell<Inner>>,
    abort: JsValue,
}

fn get(target: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(target, &key.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// Lets callbacks go after the call that runs one of them returns.
fn let_go(callbacks: Option<(Granted, Refused)>) {
    if let Some(c) = callbacks {
        wasm_bindgen_futures::spawn_local(async move { drop(c) });
    }
}

impl Lock {
    /// Whether this browser has Web Locks.
    pub fn supported() -> bool {
        web_sys::window()
            .and_then(|w| get(&w.navigator().into(), "locks"))
            .is_some()
    }

    /// Asks for the exclusive lock `name`; `on_granted` runs (in a task of its own) once this
    /// tab holds it. `None` where Web Locks are missing.
    pub fn request(name: &str, on_granted: impl FnOnce() + 'static) -> Option<Lock> {
        Self::ask(name, false, Box::new(move |_| on_granted()))
    }

    /// The exclusive lock `name` if no tab holds it now.
    pub async fn try_now(name: &str) -> TryLock {
        let (tx, rx) = futures_channel::oneshot::channel();
        let Some(lock) = Self::ask(
            name,
            true,
            Box::new(move |granted| {
                let _ = tx.send(granted);
            }),
        ) else {
            return TryLock::Unsupported;
        };
        match rx.await {
            Ok(true) => TryLock::Held(lock),
            _ => TryLock::Busy,
        }
    }

    // Boxed, not generic: one copy of this for every caller.
    fn ask(name: &str, if_available: bool, on_result: Box<dyn FnOnce(bool)>) -> Option<Lock> {
        let window = web_sys::window()?;
        let locks = get(&window.navigator().into(), "locks")?;
        let request: js_sys::Function = get(&locks, "request")?.dyn_into().ok()?;
        let ctor: js_sys::Function = get(&window.into(), "AbortController")?.dyn_into().ok()?;
        let abort = js_sys::Reflect::construct(&ctor, &js_sys::Array::new()).ok()?;
        let signal = get(&abort, "signal")?;
        let inner = Rc::new(RefCell::new(Inner {
            on_granted: Some(on_result),
            release: None,
            dropped: false,
            callbacks: None,
        }));
        let me = inner.clone();
        let granted = Granted::new(move |lock: JsValue| -> JsValue {
            let mut i = me.borrow_mut();
            let_go(i.callbacks.take());
            if lock.is_null() {
                // Asked only if free, and it was not.
                let f = i.on_granted.take();
                drop(i);
                if let Some(f) = f {
                    f(false);
                }
                return JsValue::UNDEFINED;
            }
            if i.dropped {
                // Withdrawn too late to stop the grant: give it back at once.
                return js_sys::Promise::resolve(&JsValue::UNDEFINED).into();
            }
            let mut resolve = None;
            let held = js_sys::Promise::new(&mut |r, _| resolve = Some(r));
            i.release = resolve;
            let f = i.on_granted.take();
            drop(i);
            if let Some(f) = f {
                f(true);
            }
            held.into()
        });
        let me = inner.clone();
        let refused = Refused::new(move |_e: JsValue| {
            let_go(me.borrow_mut().callbacks.take());
        });
        let options = js_sys::Object::new();
        if if_available {
            // `ifAvailable` and `signal` may not be combined.
            js_sys::Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE).ok()?;
        } else {
            js_sys::Reflect::set(&options, &"signal".into(), &signal).ok()?;
        }
        let promise: js_sys::Promise = request
            .call3(&locks, &name.into(), &options, granted.as_ref())
            .ok()?
            .dyn_into()
            .ok()?;
        let _ = promise.catch(&refused);
        inner.borrow_mut().callbacks = Some((granted, refused));
        Some(Lock { inner, abort })
    }

    /// Whether this tab holds the lock.
    pub fn held(&self) -> bool {
        self.inner.borrow().release.is_some()
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let release = {
            let mut i = self.inner.borrow_mut();
            i.dropped = true;
            i.on_granted = None;
            i.release.take()
        };
        match release {
            Some(resolve) => {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }
            None => {
                if let Some(abort) =
                    get(&self.abort, "abort").and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                {
                    let _ = abort.call0(&self.abort);
                }
            }
        }
    }
}
