//! What the tabs of one document say to each other about its one server connection (see
//! `session::lead`): which tab leads, how its connection is, what the server confirmed, the
//! changes a follower still waits for, and the server's frames relayed to the followers. It
//! travels on a BroadcastChannel of its own, beside the y-websocket one the documents sync on.
//! Bytes from other tabs are untrusted like the server's: every message is checked here before
//! anything reads it, and an update or a set of ids inside is checked by the update rules
//! before yrs sees it.

use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::IdSet;

use crate::core::error::DecodeError;
use crate::core::session::Status;
use crate::core::stats::{Direction, SyncStats, Traffic};
use crate::core::validate::{self, Limits, Reader};

/// One message between the tabs of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// A tab joined (or leadership moved): who leads, and how is its connection?
    Hello {
        /// The asking tab.
        tab: u64,
    },
    /// The leading tab, its connection's status and whether it synced (sent when either
    /// changes, and in answer to a hello).
    Leader {
        /// The leading tab.
        tab: u64,
        /// Its connection.
        status: Status,
        /// Its connection's first sync is done.
        synced: bool,
    },
    /// Changes the server confirmed, by the ids of their insertions and deletions (new ones as
    /// they come; everything the leader knows in answer to a hello).
    Confirmed {
        /// Ids of inserted content the server holds.
        insertions: IdSet,
        /// Ids of deletions the server holds.
        deletions: IdSet,
    },
    /// A follower's changes that no confirmation covers yet (one v1 update), for the leader to
    /// send and confirm.
    Unconfirmed(Vec<u8>),
    /// A frame the leader received from the server, for the followers.
    Server(Vec<u8>),
    /// The leader's connection metrics, and the delay of its pending reconnect.
    Stats {
        /// Its session's metrics.
        sync: SyncStats,
        /// The delay before its next connection attempt, ms, if one is pending.
        backoff_ms: Option<u64>,
    },
}

const HELLO: u8 = 0;
const LEADER: u8 = 1;
const CONFIRMED: u8 = 2;
const UNCONFIRMED: u8 = 3;
const SERVER: u8 = 4;
const STATS: u8 = 5;

/// The message types and close reasons a stats message may name (the names the recorder
/// writes; anything else is dropped on reading).
const KINDS: [&str; 11] = [
    "syncStep1",
    "syncStep2",
    "update",
    "awareness",
    "queryAwareness",
    "auth",
    "custom",
    "invalid",
    "syncStatus",
    "stateless",
    "close",
];

pub(crate) fn write_var(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(crate) fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_var(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn status_code(s: Status) -> u8 {
    match s {
        Status::Disconnected => 0,
        Status::Connecting => 1,
        Status::Connected => 2,
    }
}

/// An id set as the delete set of an update with no blocks: the form the update checks read.
fn ids_as_update(ids: &IdSet) -> Vec<u8> {
    let mut u = vec![0];
    u.extend(ids.encode_v1());
    u
}

fn ids_from_update(b: &[u8], limits: &Limits) -> Result<IdSet, DecodeError> {
    validate::update_v1(b, limits)?;
    // Checked: no blocks, then a delete set.
    let ds = b.get(1..).filter(|_| b.first() == Some(&0));
    let ds = ds.ok_or(DecodeError::UnexpectedEnd)?;
    IdSet::decode_v1(ds).map_err(|e| DecodeError::Yrs(e.to_string()))
}

fn write_opt(out: &mut Vec<u8>, v: Option<u64>) {
    write_var(out, v.map_or(0, |n| n.saturating_add(1)));
}

fn read_opt(r: &mut Reader<'_>) -> Result<Option<u64>, DecodeError> {
    Ok(r.var_u64()?.checked_sub(1))
}

fn write_counts<'a>(out: &mut Vec<u8>, counts: impl ExactSizeIterator<Item = (&'a str, u64)>) {
    write_var(out, counts.len() as u64);
    for (k, n) in counts {
        write_bytes(out, k.as_bytes());
        write_var(out, n);
    }
}

fn read_counts(r: &mut Reader<'_>) -> Result<Vec<(String, u64)>, DecodeError> {
    // Each entry takes at least two bytes.
    let n = r.count(2)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push((r.var_str()?.to_string(), r.var_u64()?));
    }
    Ok(v)
}

fn write_direction(out: &mut Vec<u8>, d: &Direction) {
    write_var(out, d.frames);
    write_var(out, d.bytes);
    write_var(out, d.by_type.len() as u64);
    for (k, t) in &d.by_type {
        write_bytes(out, k.as_bytes());
        write_var(out, t.messages);
        write_var(out, t.bytes);
    }
}

fn read_direction(r: &mut Reader<'_>) -> Result<Direction, DecodeError> {
    let mut d = Direction {
        frames: r.var_u64()?,
        bytes: r.var_u64()?,
        ..Direction::default()
    };
    for _ in 0..r.count(3)? {
        let k = r.var_str()?;
        let t = Traffic {
            messages: r.var_u64()?,
            bytes: r.var_u64()?,
        };
        if let Some(k) = KINDS.iter().find(|x| **x == k) {
            d.by_type.insert(k, t);
        }
    }
    Ok(d)
}

fn write_stats(out: &mut Vec<u8>, s: &SyncStats) {
    write_direction(out, &s.sent);
    write_direction(out, &s.received);
    for n in [
        s.updates_applied.local,
        s.updates_applied.remote,
        s.updates_applied.tabs,
        s.connects,
        s.reconnects,
        s.connected_ms,
        s.unacknowledged.count,
        s.unacknowledged.bytes,
    ] {
        write_var(out, n);
    }
    write_opt(out, s.unacknowledged.oldest_age_ms);
    write_opt(out, s.last_probe_rtt_ms);
    write_counts(out, s.closes.iter().map(|(k, n)| (k.as_str(), *n)));
    write_counts(out, s.errors.iter().map(|(k, n)| (k.as_str(), *n)));
}

fn read_stats(r: &mut Reader<'_>) -> Result<SyncStats, DecodeError> {
    let mut s = SyncStats {
        sent: read_direction(r)?,
        received: read_direction(r)?,
        ..SyncStats::default()
    };
    for n in [
        &mut s.updates_applied.local,
        &mut s.updates_applied.remote,
        &mut s.updates_applied.tabs,
        &mut s.connects,
        &mut s.reconnects,
        &mut s.connected_ms,
        &mut s.unacknowledged.count,
        &mut s.unacknowledged.bytes,
    ] {
        *n = r.var_u64()?;
    }
    s.unacknowledged.oldest_age_ms = read_opt(r)?;
    s.last_probe_rtt_ms = read_opt(r)?;
    // Inserted one by one: `collect` into a map compiles a sort of its own (docs/size.md).
    for (k, n) in read_counts(r)? {
        s.closes.insert(k, n);
    }
    for (k, n) in read_counts(r)? {
        s.errors.insert(k, n);
    }
    Ok(s)
}

impl Control {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Control::Hello { tab } => {
                out.push(HELLO);
                write_var(&mut out, *tab);
            }
            Control::Leader {
                tab,
                status,
                synced,
            } => {
                out.push(LEADER);
                write_var(&mut out, *tab);
                out.push(status_code(*status));
                out.push(u8::from(*synced));
            }
            Control::Confirmed {
                insertions,
                deletions,
            } => {
                out.push(CONFIRMED);
                write_bytes(&mut out, &ids_as_update(insertions));
                write_bytes(&mut out, &ids_as_update(deletions));
            }
            Control::Unconfirmed(u) => {
                out.push(UNCONFIRMED);
                write_bytes(&mut out, u);
            }
            Control::Server(f) => {
                out.push(SERVER);
                write_bytes(&mut out, f);
            }
            Control::Stats { sync, backoff_ms } => {
                out.push(STATS);
                write_stats(&mut out, sync);
                write_opt(&mut out, *backoff_ms);
            }
        }
        out
    }

    /// Reads a message from another tab, checking everything in it (an update by the update
    /// rules; a relayed server frame is only bounded here: the follower's dialect checks it
    /// as it checks the server's).
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Control, DecodeError> {
        if bytes.len() > limits.max_frame.saturating_add(16) {
            return Err(DecodeError::TooLong {
                what: "tab message",
                size: bytes.len(),
                max: limits.max_frame,
            });
        }
        let mut r = Reader::new(bytes);
        let m = match r.u8()? {
            HELLO => Control::Hello { tab: r.var_u64()? },
            LEADER => {
                let tab = r.var_u64()?;
                let status = match r.u8()? {
                    0 => Status::Disconnected,
                    1 => Status::Connecting,
                    2 => Status::Connected,
                    n => return Err(DecodeError::UnknownContent(n)),
                };
                let synced = r.flag()?;
                Control::Leader {
                    tab,
                    status,
                    synced,
                }
            }
            CONFIRMED => Control::Confirmed {
                insertions: ids_from_update(r.var_bytes()?, limits)?,
                deletions: ids_from_update(r.var_bytes()?, limits)?,
            },
            UNCONFIRMED => {
                let u = r.var_bytes()?;
                validate::update_v1(u, limits)?;
                Control::Unconfirmed(u.to_vec())
            }
            SERVER => Control::Server(r.var_bytes()?.to_vec()),
            STATS => Control::Stats {
                sync: read_stats(&mut r)?,
                backoff_ms: read_opt(&mut r)?,
            },
            n => return Err(DecodeError::UnknownContent(n)),
        };
        r.finish()?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use yrs::{ReadTxn, Text, Transact};

    fn ids(doc: &yrs::Doc) -> IdSet {
        let u = doc
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default());
        yrs::Update::decode_v1(&u).unwrap().insertions(true)
    }

    fn stats() -> SyncStats {
        let mut r = crate::core::stats::Recorder::default();
        r.connecting();
        r.up(10);
        r.sent(&yrs::sync::Message::AwarenessQuery, 3);
        r.received(&[], 5);
        r.closed("1006");
        r.error("TIMEOUT");
        r.probe_answered(10, 42);
        r.snapshot(
            99,
            crate::core::stats::Unacknowledged {
                count: 2,
                bytes: 30,
                oldest_age_ms: Some(7),
            },
        )
    }

    #[test]
    fn every_message_reads_back() {
        let doc = yrs::Doc::with_client_id(7);
        let t = doc.get_or_insert_text("t");
        t.insert(&mut doc.transact_mut(), 0, "hello");
        t.remove_range(&mut doc.transact_mut(), 1, 2);
        let update = doc
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default());
        let deletions = yrs::Update::decode_v1(&update)
            .unwrap()
            .delete_set()
            .clone();
        let limits = Limits::default();
        for m in [
            Control::Hello { tab: u64::MAX },
            Control::Leader {
                tab: 3,
                status: Status::Connected,
                synced: true,
            },
            Control::Leader {
                tab: 4,
                status: Status::Connecting,
                synced: false,
            },
            Control::Confirmed {
                insertions: ids(&doc),
                deletions,
            },
            Control::Confirmed {
                insertions: IdSet::default(),
                deletions: IdSet::default(),
            },
            Control::Unconfirmed(update.clone()),
            Control::Server(vec![0, 2, 1, 0]),
            Control::Stats {
                sync: stats(),
                backoff_ms: Some(0),
            },
            Control::Stats {
                sync: SyncStats::default(),
                backoff_ms: None,
            },
        ] {
            assert_eq!(
                Control::decode(&m.encode(), &limits),
                Ok(m.clone()),
                "{m:?}"
            );
        }
    }

    #[test]
    fn bad_messages_are_refused_without_reading_past_their_end() {
        let limits = Limits::default();
        let good = Control::Unconfirmed(vec![0, 0]).encode();
        for bad in [
            vec![],
            vec![99],
            vec![LEADER, 1, 7, 0],
            vec![LEADER, 1, 2, 2],
            // An update whose string declares 0xFFFFFFFF bytes (traps yrs on wasm32).
            [
                vec![UNCONFIRMED, 14],
                vec![1, 1, 1, 0, 4, 1, 1, b't', 0xff, 0xff, 0xff, 0xff, 0x0f, 0],
            ]
            .concat(),
            // A set of ids that is an update with blocks.
            [vec![CONFIRMED, 3, 1, 0, 0], vec![1, 0]].concat(),
            // A stats message that says it holds 2^40 entries.
            vec![STATS, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20],
            [good.clone(), vec![0]].concat(),
            good[..good.len() - 1].to_vec(),
        ] {
            assert!(Control::decode(&bad, &limits).is_err(), "{bad:?}");
        }
    }
}
