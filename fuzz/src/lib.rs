//! Structure-aware generators: the fuzzer's bytes choose edits on real yrs documents, the
//! real encodings of what those edits produce, and a few targeted mutations of them (bit
//! flips, spliced ranges, and the varints that broke decoders before: 0xFFFFFFFF lengths,
//! 2^25 counts, 2^53 client ids). Random bytes alone rarely get past the first length prefix.

use std::collections::HashMap;
use std::sync::Arc;

use arbitrary::{Result, Unstructured};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Any, Array, ArrayPrelim, Doc, Map, MapPrelim, ReadTxn, StateVector, Text, TextPrelim,
    Transact, XmlElementPrelim, XmlFragment, XmlTextPrelim,
};
use ysync::core::untrusted::Target;

/// The bytes a fuzz input stands for.
pub fn generate(target: Target, data: &[u8]) -> Vec<u8> {
    let mut u = Unstructured::new(data);
    build(target, &mut u).unwrap_or_else(|_| data.to_vec())
}

fn build(target: Target, u: &mut Unstructured) -> Result<Vec<u8>> {
    // One input in eight is taken as raw bytes, so plain byte-level mutation is explored too.
    if u.ratio(1, 8)? {
        return Ok(u.bytes(u.len())?.to_vec());
    }
    let bytes = match target {
        Target::UpdateV1 => update(u, false)?,
        Target::UpdateV2 => update(u, true)?,
        Target::StateVector => state_vector(u)?,
        Target::Awareness => awareness(u)?,
        Target::Frame => frame(u)?,
    };
    mutate(u, bytes)
}

/// Edits on one to three replicas; returns an update of the result.
fn update(u: &mut Unstructured, v2: bool) -> Result<Vec<u8>> {
    let docs: Vec<Doc> = (0..u.int_in_range(1u64..=3)?)
        .map(|i| utf16_doc(i + 1))
        .collect();
    let captured: Arc<std::sync::Mutex<Vec<Vec<u8>>>> = Arc::default();
    for d in &docs {
        let c = captured.clone();
        let sub = if v2 {
            d.observe_update_v2("fuzz", move |_, e: &yrs::UpdateEvent| {
                c.lock().unwrap().push(e.update.clone())
            })
        } else {
            d.observe_update_v1("fuzz", move |_, e: &yrs::UpdateEvent| {
                c.lock().unwrap().push(e.update.clone())
            })
        };
        sub.expect("no transaction is open");
    }
    for _ in 0..u.int_in_range(1..=24)? {
        let d = u.choose(&docs)?;
        edit(u, d)?;
        if u.ratio(1, 6)? {
            // Exchange state so later edits refer to other replicas' items.
            let a = u.choose(&docs)?;
            let b = u.choose(&docs)?;
            let diff = a
                .transact()
                .encode_state_as_update_v1(&b.transact().state_vector());
            if let Ok(up) = yrs::Update::decode_v1(&diff) {
                let _ = b.transact_mut().apply_update(up);
            }
        }
    }
    let d = u.choose(&docs)?;
    let captured = captured.lock().unwrap().clone();
    Ok(match u.int_in_range(0..=2)? {
        // The whole state (what a sync step 2 or a compacted row holds).
        0 => {
            let txn = d.transact();
            if v2 {
                txn.encode_state_as_update_v2(&StateVector::default())
            } else {
                txn.encode_state_as_update_v1(&StateVector::default())
            }
        }
        // One transaction's update (an update message, an IndexedDB row).
        1 if !captured.is_empty() => u.choose(&captured)?.clone(),
        // A diff against another replica's state.
        _ => {
            let other = u.choose(&docs)?;
            let sv = other.transact().state_vector();
            let txn = d.transact();
            if v2 {
                txn.encode_state_as_update_v2(&sv)
            } else {
                txn.encode_state_as_update_v1(&sv)
            }
        }
    })
}

/// A document that counts text offsets in UTF-16 units, as the SDK's documents do.
pub fn utf16_doc(client: u64) -> Doc {
    Doc::with_options(yrs::Options {
        client_id: yrs::ClientID::new(client),
        offset_kind: yrs::OffsetKind::Utf16,
        ..yrs::Options::default()
    })
}

fn string(u: &mut Unstructured) -> Result<String> {
    const PIECES: [&str; 8] = ["a", "hello ", "é", "🦀", "\u{0}", "\"}", "日本", "\u{FFFF}"];
    let mut s = String::new();
    for _ in 0..u.int_in_range(0..=4)? {
        s.push_str(u.choose(&PIECES)?);
    }
    Ok(s)
}

fn any(u: &mut Unstructured, depth: u32) -> Result<Any> {
    let pick = if depth >= 4 { u.int_in_range(0..=6)? } else { u.int_in_range(0..=8)? };
    Ok(match pick {
        0 => Any::Null,
        1 => Any::Undefined,
        2 => Any::Bool(u.arbitrary()?),
        3 => Any::from(u.arbitrary::<f64>()?),
        4 => Any::Number(yrs::any::Number::Int(u.arbitrary()?)),
        5 => Any::from(string(u)?),
        6 => {
            let n = u.int_in_range(0..=8)?;
            Any::Buffer(u.bytes(n)?.to_vec().into())
        }
        7 => {
            let n = u.int_in_range(0..=3)?;
            let mut v = Vec::new();
            for _ in 0..n {
                v.push(any(u, depth + 1)?);
            }
            Any::Array(v.into())
        }
        _ => {
            let mut m = HashMap::new();
            for _ in 0..u.int_in_range(0..=3)? {
                m.insert(string(u)?, any(u, depth + 1)?);
            }
            Any::Map(Arc::new(m))
        }
    })
}

/// One transaction of random edits on `doc`.
fn edit(u: &mut Unstructured, doc: &Doc) -> Result<()> {
    let text = doc.get_or_insert_text("text");
    let map = doc.get_or_insert_map("map");
    let arr = doc.get_or_insert_array("array");
    let xml = doc.get_or_insert_xml_fragment("xml");
    let mut txn = doc.transact_mut();
    for _ in 0..u.int_in_range(1..=3)? {
        match u.int_in_range(0..=10)? {
            0 | 1 => {
                let len = text.len(&txn);
                let at = u.int_in_range(0..=len)?;
                let s = string(u)?;
                text.insert(&mut txn, at, &s);
            }
            2 => {
                let len = text.len(&txn);
                if len > 0 {
                    let at = u.int_in_range(0..=len - 1)?;
                    let n = u.int_in_range(1..=len - at)?;
                    text.remove_range(&mut txn, at, n);
                }
            }
            3 => {
                let len = text.len(&txn);
                let at = u.int_in_range(0..=len)?;
                let n = u.int_in_range(0..=len - at)?;
                let attrs: yrs::types::Attrs =
                    HashMap::from([(Arc::from("bold"), any(u, 3)?)]);
                if u.arbitrary()? {
                    text.format(&mut txn, at, n, attrs);
                } else {
                    text.insert_embed(&mut txn, at, any(u, 2)?);
                }
            }
            4 => {
                let k = string(u)?;
                map.insert(&mut txn, k, any(u, 0)?);
            }
            5 => {
                let k = string(u)?;
                match u.int_in_range(0..=2)? {
                    0 => {
                        let m = map.insert(&mut txn, k, MapPrelim::default());
                        m.insert(&mut txn, "inner", any(u, 2)?);
                    }
                    1 => {
                        let a = map.insert(&mut txn, k, ArrayPrelim::default());
                        a.push_back(&mut txn, any(u, 2)?);
                    }
                    _ => {
                        let s = string(u)?;
                        map.insert(&mut txn, k, TextPrelim::new(s));
                    }
                }
            }
            6 => {
                let k = string(u)?;
                map.remove(&mut txn, &k);
            }
            7 => {
                let len = arr.len(&txn);
                let at = u.int_in_range(0..=len)?;
                if u.arbitrary()? {
                    arr.insert(&mut txn, at, any(u, 0)?);
                } else {
                    let m = arr.insert(&mut txn, at, MapPrelim::default());
                    m.insert(&mut txn, "k", any(u, 2)?);
                }
            }
            8 => {
                let len = arr.len(&txn);
                if len > 0 {
                    let at = u.int_in_range(0..=len - 1)?;
                    let n = u.int_in_range(1..=len - at)?;
                    arr.remove_range(&mut txn, at, n);
                }
            }
            9 => {
                let len = xml.len(&txn);
                let at = u.int_in_range(0..=len)?;
                let el = xml.insert(&mut txn, at, XmlElementPrelim::empty("p"));
                el.insert(&mut txn, 0, XmlTextPrelim::new(string(u)?));
            }
            _ => {
                let len = xml.len(&txn);
                if len > 0 {
                    let at = u.int_in_range(0..=len - 1)?;
                    xml.remove_range(&mut txn, at, 1);
                }
            }
        }
    }
    Ok(())
}

fn var(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn buf(out: &mut Vec<u8>, b: &[u8]) {
    var(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Numbers that broke decoders, or nearly do.
fn edge(u: &mut Unstructured) -> Result<u64> {
    const EDGES: [u64; 10] = [
        0,
        1,
        0x7f,
        0x80,
        0xffff_ffff,
        0xffff_fffe,
        1 << 25,
        1 << 31,
        (1 << 53) - 1,
        u64::MAX,
    ];
    if u.arbitrary()? {
        Ok(*u.choose(&EDGES)?)
    } else {
        u.arbitrary()
    }
}

fn state_vector(u: &mut Unstructured) -> Result<Vec<u8>> {
    if u.arbitrary()? {
        let d = utf16_doc(u.int_in_range(1..=1000)?);
        edit(u, &d)?;
        return Ok(d.transact().state_vector().encode_v1());
    }
    let mut out = Vec::new();
    let n = u.int_in_range(0..=6)?;
    var(&mut out, if u.ratio(1, 8)? { edge(u)? } else { n });
    for _ in 0..n {
        var(&mut out, edge(u)?);
        var(&mut out, edge(u)?);
    }
    Ok(out)
}

fn json(u: &mut Unstructured) -> Result<String> {
    Ok(match u.int_in_range(0..=5)? {
        0 => "null".into(),
        1 => string(u)?, // rarely JSON
        _ => {
            let mut s = String::new();
            any(u, 1)?.to_json(&mut s);
            s
        }
    })
}

fn awareness(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let n = u.int_in_range(0..=4)?;
    var(&mut out, n);
    for _ in 0..n {
        var(&mut out, if u.ratio(1, 4)? { edge(u)? } else { u.int_in_range(1..=5)? });
        var(&mut out, if u.ratio(1, 4)? { edge(u)? } else { u.int_in_range(0..=5)? });
        buf(&mut out, json(u)?.as_bytes());
    }
    Ok(out)
}

fn frame(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    // One message per frame is what servers send; several back to back must work too.
    for _ in 0..u.int_in_range(1..=3)? {
        match u.int_in_range(0..=7)? {
            0 => {
                out.extend([0, 0]);
                buf(&mut out, &state_vector(u)?);
            }
            1 => {
                out.extend([0, 1]);
                buf(&mut out, &update(u, false)?);
            }
            2 => {
                out.extend([0, 2]);
                buf(&mut out, &update(u, false)?);
            }
            3 => {
                out.push(1);
                buf(&mut out, &awareness(u)?);
            }
            4 => {
                out.extend([2, 0]);
                buf(&mut out, string(u)?.as_bytes());
            }
            5 => out.push(3),
            6 => {
                // A sync message of an unknown sub-type.
                out.push(0);
                var(&mut out, edge(u)?);
            }
            _ => {
                var(&mut out, edge(u)?);
            }
        }
    }
    Ok(out)
}

/// A few targeted mutations of a valid encoding.
fn mutate(u: &mut Unstructured, mut b: Vec<u8>) -> Result<Vec<u8>> {
    for _ in 0..u.int_in_range(0..=3)? {
        if b.is_empty() {
            break;
        }
        let at = u.int_in_range(0..=b.len() - 1)?;
        match u.int_in_range(0..=5)? {
            0 => b[at] ^= 1 << u.int_in_range(0..=7)?,
            1 => b[at] = u.arbitrary()?,
            2 => {
                // Replace the byte with an edge-case varint (a length, a count, a client).
                let mut v = Vec::new();
                var(&mut v, edge(u)?);
                b.splice(at..=at, v);
            }
            3 => {
                let end = u.int_in_range(at..=b.len())?;
                b.drain(at..end);
            }
            4 => {
                let end = u.int_in_range(at..=b.len())?;
                let copy = b[at..end].to_vec();
                let to = u.int_in_range(0..=b.len())?;
                b.splice(to..to, copy);
            }
            _ => b.truncate(at),
        }
    }
    Ok(b)
}
