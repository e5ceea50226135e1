//! v2 updates (Yjs's `encodeStateAsUpdateV2`) written by a corrected yrs encoder.
//!
//! yrs 0.28's `EncoderV2` writes binary content (`ContentBinary`, a `Uint8Array` set in a map or
//! pushed to an array) with its length twice: `Write::write_buf` writes the length and calls
//! `write_all`, which `EncoderV2` overrides to write a length again. Yjs and yrs's own decoder
//! read one length, so such an update is misread by everyone, and yrs's
//! `encode_state_as_update_v2` unwraps the decode of its own output whenever the document has
//! pending blocks: a panic, which in wasm is a trap that leaves the document's lock held.
//! [`Corrected`] wraps yrs's encoder and writes binary content once, as Yjs does; everything
//! else is yrs's encoder unchanged.

use yrs::block::ID;
use yrs::encoding::write::Write;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::{Encode, Encoder, EncoderV2};
use yrs::{Any, ClientID, ReadTxn, StateVector, Update};

use crate::core::error::DecodeError;

/// yrs's v2 encoder with binary content written once.
pub struct Corrected(EncoderV2);

impl Default for Corrected {
    fn default() -> Self {
        Corrected(EncoderV2::new())
    }
}

impl Write for Corrected {
    fn write_all(&mut self, buf: &[u8]) {
        // Raw bytes into the rest of the update (yrs's `write_all` would prefix a length).
        for b in buf {
            self.0.write_u8(*b);
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.0.write_u8(value)
    }

    fn write_string(&mut self, s: &str) {
        self.0.write_string(s)
    }

    fn write_buf<B: AsRef<[u8]>>(&mut self, buf: B) {
        // yrs's `write_all` is exactly Yjs's `writeVarUint8Array`: one length, then the bytes.
        self.0.write_all(buf.as_ref())
    }
}

impl Encoder for Corrected {
    fn to_vec(self) -> Vec<u8> {
        self.0.to_vec()
    }
    fn reset_ds_cur_val(&mut self) {
        self.0.reset_ds_cur_val()
    }
    fn write_ds_clock(&mut self, clock: u32) {
        self.0.write_ds_clock(clock)
    }
    fn write_ds_len(&mut self, len: u32) {
        self.0.write_ds_len(len)
    }
    fn write_left_id(&mut self, id: &ID) {
        self.0.write_left_id(id)
    }
    fn write_right_id(&mut self, id: &ID) {
        self.0.write_right_id(id)
    }
    fn write_client(&mut self, client: ClientID) {
        self.0.write_client(client)
    }
    fn write_info(&mut self, info: u8) {
        self.0.write_info(info)
    }
    fn write_parent_info(&mut self, is_y_key: bool) {
        self.0.write_parent_info(is_y_key)
    }
    fn write_type_ref(&mut self, info: u8) {
        self.0.write_type_ref(info)
    }
    fn write_len(&mut self, len: u32) {
        self.0.write_len(len)
    }
    fn write_any(&mut self, any: &Any) {
        self.0.write_any(any)
    }
    fn write_json(&mut self, any: &Any) {
        self.0.write_json(any)
    }
    fn write_key(&mut self, key: &str) {
        self.0.write_key(key)
    }
}

/// An update in v2 form.
pub fn encode(update: &Update) -> Vec<u8> {
    let mut e = Corrected::default();
    update.encode(&mut e);
    e.to_vec()
}

/// What the holder of `sv` lacks, pending blocks included, in v2 form (Yjs's
/// `encodeStateAsUpdateV2`). The v1 form, which yrs writes correctly and merges with the
/// pending blocks, is re-encoded.
pub fn encode_state_as_update(
    txn: &impl ReadTxn,
    sv: &StateVector,
) -> Result<Vec<u8>, DecodeError> {
    let v1 = txn.encode_state_as_update_v1(sv);
    let update = Update::decode_v1(&v1).map_err(|e| DecodeError::Yrs(e.to_string()))?;
    Ok(encode(&update))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hex;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use yrs::{Doc, Map, Transact};

    /// The case from the hostile-input issue: a binary value, then a block waiting for an
    /// item this document never received (pending in yrs).
    #[test]
    fn binary_content_with_pending_blocks_encodes_and_round_trips() {
        let doc = Doc::with_client_id(9);
        for u in ["010101002301016d0362696e0301020300", "01010300840204012100"] {
            let u = Update::decode_v1(&hex(u)).unwrap();
            doc.transact_mut().apply_update(u).unwrap();
        }
        let txn = doc.transact();
        let v2 = encode_state_as_update(&txn, &StateVector::default()).unwrap();
        let back = Update::decode_v2(&v2).unwrap();
        assert_eq!(
            back.encode_v1(),
            Update::decode_v1(&txn.encode_state_as_update_v1(&StateVector::default()))
                .unwrap()
                .encode_v1()
        );
        // Read into a fresh document, the value is the same bytes.
        let other = Doc::with_client_id(10);
        other.transact_mut().apply_update(back).unwrap();
        let m = other.get_or_insert_map("m");
        let want = yrs::Out::Any(Any::from(vec![1u8, 2, 3]));
        assert_eq!(m.get(&other.transact(), "bin"), Some(want));
    }

    #[test]
    fn yrs_own_v2_encoder_writes_binary_lengths_twice() {
        // Kept as a tripwire: when yrs fixes its encoder this fails, and `Corrected` can go.
        // yrs never makes binary content itself: Yjs does, for a `Uint8Array` value.
        let doc = Doc::with_client_id(9);
        let u1 = Update::decode_v1(&hex("010101002301016d0362696e0301020300")).unwrap();
        doc.transact_mut().apply_update(u1).unwrap();
        let txn = doc.transact();
        let theirs = txn.encode_state_as_update_v2(&StateVector::default());
        assert!(Update::decode_v2(&theirs).is_err());
        let ours = encode_state_as_update(&txn, &StateVector::default()).unwrap();
        assert_eq!(ours.len() + 1, theirs.len());
        let back = Doc::with_client_id(2);
        back.transact_mut()
            .apply_update(Update::decode_v2(&ours).unwrap())
            .unwrap();
        let m = back.get_or_insert_map("m");
        assert!(m.get(&back.transact(), "bin").is_some());
    }
}
