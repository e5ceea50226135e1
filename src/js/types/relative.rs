//! Relative positions of texts and arrays, as Yjs's JSON.

use wasm_bindgen::prelude::*;

use super::past_end;
use crate::core::position;
use crate::js::error::{ApiError, ApiResult};
use crate::js::shared::DocShared;
use crate::js::ts::{uint, NumberArg};

/// `relativePosition(index, assoc)` of a text or an array whose length `len` gives.
pub(super) fn create<S: yrs::IndexedSequence>(
    shared: &DocShared,
    seq: &S,
    len: impl Fn(&crate::js::shared::ReadView<'_>) -> u32,
    index: &NumberArg,
    assoc: Option<i32>,
) -> ApiResult<JsValue> {
    let index = uint(index, "index")?;
    let txn = shared.read()?;
    let len = len(&txn);
    let json = position::create(seq, &txn, len, index, position::assoc(assoc.unwrap_or(0)))
        .ok_or_else(|| past_end(index, len))?;
    js_sys::JSON::parse(&json)
        .map_err(|_| ApiError::InvalidArgument("relative position not representable".into()))
}

/// `resolveRelativePosition(position)` in a text or an array.
pub(super) fn resolve<S: yrs::IndexedSequence>(
    shared: &DocShared,
    seq: &S,
    value: &JsValue,
) -> ApiResult<Option<u32>> {
    let json = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| ApiError::InvalidArgument("not a relative position".into()))?;
    let pos = position::parse(&json).map_err(|e| ApiError::InvalidArgument(e.to_string()))?;
    let txn = shared.read()?;
    Ok(position::resolve(seq, &txn, &pos))
}
