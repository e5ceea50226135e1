//! Bounds checks of untrusted bytes before yrs decodes them.
//!
//! yrs 0.28 returns errors for most malformed input natively, but on wasm32 some inputs trap
//! (a 32-bit `next + len` overflow) or allocate gigabytes before failing, and a trap kills the
//! whole instance. Every length prefix is checked here against the bytes that remain, every
//! count against a bound derived from them, and nesting depth is capped, so that what reaches
//! yrs is structurally sound.

use crate::core::error::DecodeError;

/// Limits applied to untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame accepted from the network, in bytes.
    pub max_frame: usize,
    /// Deepest nesting of `Any` values (arrays / objects) inside an update.
    pub max_depth: usize,
    /// Largest JSON state of one awareness entry, in bytes.
    pub max_awareness_state: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: 64 * 1024 * 1024,
            max_depth: 256,
            max_awareness_state: 64 * 1024,
        }
    }
}

/// Largest client id Yjs can produce (53 bits, a JS safe integer).
pub const MAX_CLIENT_ID: u64 = (1 << 53) - 1;

/// A bounds-checked reader of lib0-encoded bytes. Never panics, never allocates.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads from the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::UnexpectedEnd)?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads a varUint of at most 64 bits.
    pub fn var_u64(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            let low = u64::from(b & 0x7f);
            if shift >= 64 || (shift == 63 && low > 1) {
                return Err(DecodeError::VarIntOverflow);
            }
            value |= low << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    /// Reads a varUint that must fit in 32 bits.
    pub fn var_u32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.var_u64()?).map_err(|_| DecodeError::VarIntOverflow)
    }

    /// Reads a client id (53 bits at most, as Yjs).
    pub fn client_id(&mut self) -> Result<u64, DecodeError> {
        let id = self.var_u64()?;
        if id > MAX_CLIENT_ID {
            return Err(DecodeError::ClientIdOutOfRange(id));
        }
        Ok(id)
    }

    /// Reads a signed varInt (lib0: first byte has continue, sign and 6 data bits).
    pub fn var_i64(&mut self) -> Result<i64, DecodeError> {
        let first = self.u8()?;
        let mut value = u64::from(first & 0x3f);
        let negative = first & 0x40 != 0;
        let mut more = first & 0x80 != 0;
        let mut shift = 6u32;
        while more {
            let b = self.u8()?;
            if shift > 63 {
                return Err(DecodeError::VarIntOverflow);
            }
            value |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            more = b & 0x80 != 0;
            shift += 7;
        }
        let v = i64::try_from(value).map_err(|_| DecodeError::VarIntOverflow)?;
        Ok(if negative { -v } else { v })
    }

    /// Reads `len` raw bytes.
    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::LengthOutOfBounds {
                declared: len as u64,
                remaining: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    /// Reads a varUint8Array (varUint length + bytes).
    pub fn var_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.var_u64()?;
        if len > self.remaining() as u64 {
            return Err(DecodeError::LengthOutOfBounds {
                declared: len,
                remaining: self.remaining(),
            });
        }
        self.bytes(len as usize)
    }

    /// Reads a varString (varUint UTF-8 length + bytes), checking UTF-8.
    pub fn var_str(&mut self) -> Result<&'a str, DecodeError> {
        let bytes = self.var_bytes()?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// Reads a count of items that each take at least `min_item_bytes`, so the count can
    /// never exceed what the remaining bytes could hold (no allocation bombs).
    pub fn count(&mut self, min_item_bytes: usize) -> Result<usize, DecodeError> {
        let n = self.var_u64()?;
        let bound = (self.remaining() / min_item_bytes.max(1)) as u64;
        if n > bound {
            return Err(DecodeError::CountOutOfBounds { count: n, bound });
        }
        Ok(n as usize)
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.remaining()))
        }
    }
}

/// Checks an encoded (v1) state vector: `varUint(n)` then `n` x (client, clock).
pub fn state_vector(bytes: &[u8]) -> Result<(), DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.count(2)?;
    for _ in 0..n {
        r.client_id()?;
        r.var_u32()?;
    }
    r.finish()
}

/// Checks a v1 update (structs per client, then the delete set) against `limits`.
pub fn update_v1(bytes: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    let mut r = Reader::new(bytes);
    // Structs: each client block needs at least 3 bytes (count, client, clock).
    let clients = r.count(3)?;
    for _ in 0..clients {
        let structs = r.count(1)?;
        r.client_id()?;
        let mut clock = u64::from(r.var_u32()?);
        for _ in 0..structs {
            let len = struct_v1(&mut r, limits)?;
            clock += len;
            if clock > u64::from(u32::MAX) {
                return Err(DecodeError::ClockOverflow);
            }
        }
    }
    delete_set_v1(&mut r)?;
    r.finish()
}

fn delete_set_v1(r: &mut Reader) -> Result<(), DecodeError> {
    let clients = r.count(2)?;
    for _ in 0..clients {
        r.client_id()?;
        let ranges = r.count(2)?;
        for _ in 0..ranges {
            let clock = u64::from(r.var_u32()?);
            let len = u64::from(r.var_u32()?);
            if clock + len > u64::from(u32::MAX) {
                return Err(DecodeError::ClockOverflow);
            }
        }
    }
    Ok(())
}

const BIT_ORIGIN: u8 = 0x80;
const BIT_RIGHT_ORIGIN: u8 = 0x40;
const BIT_PARENT_SUB: u8 = 0x20;

/// Checks one struct; returns its length in clock units.
fn struct_v1(r: &mut Reader, limits: &Limits) -> Result<u64, DecodeError> {
    let info = r.u8()?;
    match info & 0x1f {
        // GC and Skip: just a length.
        0 | 10 => Ok(u64::from(r.var_u32()?)),
        content => {
            if info & BIT_ORIGIN != 0 {
                r.client_id()?;
                r.var_u32()?;
            }
            if info & BIT_RIGHT_ORIGIN != 0 {
                r.client_id()?;
                r.var_u32()?;
            }
            if info & (BIT_ORIGIN | BIT_RIGHT_ORIGIN) == 0 {
                // Parent: a root type name, or the id of the item that holds the type.
                if r.var_u32()? == 1 {
                    r.var_str()?;
                } else {
                    r.client_id()?;
                    r.var_u32()?;
                }
                if info & BIT_PARENT_SUB != 0 {
                    r.var_str()?;
                }
            }
            content_v1(r, content, limits)
        }
    }
}

/// Checks an item's content; returns its length in clock units.
fn content_v1(r: &mut Reader, kind: u8, limits: &Limits) -> Result<u64, DecodeError> {
    match kind {
        // Deleted
        1 => Ok(u64::from(r.var_u32()?)),
        // JSON: n strings ("undefined" or JSON text)
        2 => {
            let n = r.count(1)?;
            for _ in 0..n {
                json_text(r.var_str()?, limits)?;
            }
            Ok(n as u64)
        }
        // Binary
        3 => r.var_bytes().map(|_| 1),
        // String: its clock length is in UTF-16 units, which never exceed the UTF-8 byte
        // count; the byte count is a cheap upper bound for the overflow check.
        4 => r.var_str().map(|s| s.len() as u64),
        // Embed
        5 => json_text(r.var_str()?, limits).map(|_| 1),
        // Format: key + JSON value
        6 => {
            r.var_str()?;
            json_text(r.var_str()?, limits).map(|_| 1)
        }
        // Type
        7 => {
            match r.var_u32()? {
                // XmlElement and XmlHook carry a name.
                3 | 5 => {
                    r.var_str()?;
                }
                0..=6 => {}
                other => return Err(DecodeError::UnknownTypeRef(other)),
            }
            Ok(1)
        }
        // Any: n values
        8 => {
            let n = r.count(1)?;
            for _ in 0..n {
                any(r, 0, limits)?;
            }
            Ok(n as u64)
        }
        // Doc: guid + options
        9 => {
            r.var_str()?;
            any(r, 0, limits)?;
            Ok(1)
        }
        other => Err(DecodeError::UnknownContent(other)),
    }
}

/// Checks a lib0 `Any` value, capping nesting depth.
fn any(r: &mut Reader, depth: usize, limits: &Limits) -> Result<(), DecodeError> {
    if depth >= limits.max_depth {
        return Err(DecodeError::TooDeep(limits.max_depth));
    }
    match r.u8()? {
        // undefined, null, false, true
        127 | 126 | 121 | 120 => Ok(()),
        125 => r.var_i64().map(|_| ()),
        124 => r.bytes(4).map(|_| ()),
        123 | 122 => r.bytes(8).map(|_| ()),
        119 => r.var_str().map(|_| ()),
        118 => {
            let n = r.count(2)?;
            for _ in 0..n {
                r.var_str()?;
                any(r, depth + 1, limits)?;
            }
            Ok(())
        }
        117 => {
            let n = r.count(1)?;
            for _ in 0..n {
                any(r, depth + 1, limits)?;
            }
            Ok(())
        }
        116 => r.var_bytes().map(|_| ()),
        other => Err(DecodeError::UnknownAnyTag(other)),
    }
}

/// JSON text inside an update ("undefined" is what Yjs writes for `undefined`). yrs parses it
/// with serde_json, whose recursion limit already stops deep nesting; this only checks it parses
/// as JSON so that errors surface here, typed.
fn json_text(s: &str, _limits: &Limits) -> Result<(), DecodeError> {
    if s == "undefined" {
        return Ok(());
    }
    serde_json::from_str::<serde::de::IgnoredAny>(s)
        .map(|_| ())
        .map_err(|_| DecodeError::InvalidJson)
}

/// Checks an awareness update: `varUint(n)` then `n` x (client, clock, JSON state).
pub fn awareness(bytes: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.count(3)?;
    for _ in 0..n {
        r.client_id()?;
        r.var_u32()?;
        let state = r.var_str()?;
        if state.len() > limits.max_awareness_state {
            return Err(DecodeError::AwarenessStateTooLarge {
                size: state.len(),
                max: limits.max_awareness_state,
            });
        }
        json_text(state, limits)?;
    }
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use yrs::updates::decoder::Decode;
    use yrs::{Array, Doc, GetString, Map, ReadTxn, Text, Transact, Update};

    fn sample_update() -> Vec<u8> {
        let doc = Doc::with_client_id(7);
        let text = doc.get_or_insert_text("t");
        let map = doc.get_or_insert_map("m");
        let arr = doc.get_or_insert_array("a");
        {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "héllo wörld 🦀");
            text.remove_range(&mut txn, 1, 3);
            map.insert(&mut txn, "k", yrs::Any::from(vec![1.5, 2.0]));
            map.insert(&mut txn, "nested", yrs::MapPrelim::default());
            arr.push_back(&mut txn, "x");
            arr.push_back(&mut txn, yrs::Any::Buffer(vec![1u8, 2, 3].into()));
            arr.push_back(&mut txn, 42i64);
        }
        let txn = doc.transact();
        let _ = text.get_string(&txn);
        txn.encode_state_as_update_v1(&yrs::StateVector::default())
    }

    #[test]
    fn accepts_real_updates() {
        let u = sample_update();
        update_v1(&u, &Limits::default()).unwrap();
        Update::decode_v1(&u).unwrap();
    }

    #[test]
    fn every_truncation_is_rejected_without_panic() {
        let u = sample_update();
        for cut in 0..u.len() {
            assert!(
                update_v1(&u[..cut], &Limits::default()).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn string_length_overflow_is_rejected() {
        // One client, one struct, client 1 clock 0, item with parent root "t", string content
        // declaring a length of 0xFFFFFFFF: the input that traps yrs on wasm32.
        let bad = [1, 1, 1, 0, 4, 1, 1, b't', 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
        assert!(matches!(
            update_v1(&bad, &Limits::default()),
            Err(DecodeError::LengthOutOfBounds { .. })
        ));
    }

    #[test]
    fn huge_state_vector_count_is_rejected() {
        assert!(matches!(
            state_vector(&[0x80, 0x80, 0x80, 0x10]),
            Err(DecodeError::CountOutOfBounds { .. })
        ));
    }

    #[test]
    fn deep_any_is_rejected() {
        // An Any content of nested arrays 10,000 deep.
        let mut u = vec![1, 1, 1, 0, 8, 1, 1, b'a', 1];
        u.extend(std::iter::repeat_n(117u8, 10_000).flat_map(|t| [t, 1]));
        u.push(126);
        u.push(0);
        assert!(matches!(
            update_v1(&u, &Limits::default()),
            Err(DecodeError::TooDeep(_))
        ));
    }

    #[test]
    fn varint_overflow_is_rejected() {
        let mut r = Reader::new(&[0xff; 11]);
        assert!(r.var_u64().is_err());
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
        assert!(r.var_u32().is_err());
    }

    #[test]
    fn awareness_checks_json_and_size() {
        let ok = [1, 1, 0, 2, b'{', b'}'];
        awareness(&ok, &Limits::default()).unwrap();
        let bad_json = [1, 1, 0, 2, b'{', b'x'];
        assert!(awareness(&bad_json, &Limits::default()).is_err());
        let limits = Limits {
            max_awareness_state: 1,
            ..Limits::default()
        };
        assert!(awareness(&ok, &limits).is_err());
    }

    #[test]
    fn map_and_array_content_validate() {
        let doc = Doc::with_client_id(1);
        let arr = doc.get_or_insert_array("a");
        let mut txn = doc.transact_mut();
        let m = arr.push_back(&mut txn, yrs::MapPrelim::default());
        m.insert(&mut txn, "deep", yrs::ArrayPrelim::default());
        drop(txn);
        let u = doc
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default());
        update_v1(&u, &Limits::default()).unwrap();
    }
}
