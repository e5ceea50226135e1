//! Splitting a checked v1 update at the first gap of each client: what yrs can integrate now,
//! and what must wait in the gate (`gate.rs`) until the gap fills.

use crate::core::error::DecodeError;
use crate::core::validate::{self, BlockAt, Limits};

/// A checked v1 update cut where yrs would have to integrate out of clock order.
#[derive(Debug)]
pub struct Split {
    /// What can be integrated now (with the whole delete set), or `None` when that is the
    /// input unchanged.
    pub now: Option<Vec<u8>>,
    /// Per client, the blocks that start past a gap (its missing clocks), to apply once the
    /// gap fills.
    pub held: Vec<HeldRun>,
    /// How many blocks `now` holds.
    pub now_blocks: usize,
    /// The clients `now` has blocks of (their clocks advance when it is applied).
    pub now_clients: Vec<u64>,
    /// Blocks of `now` that are new to the document (reach past its clock for their client),
    /// and their size in bytes: what applying `now` adds.
    pub new_blocks: usize,
    /// See `new_blocks`.
    pub new_bytes: usize,
    /// Delete ranges that reach past the clocks the document will have once `now` is in
    /// (yrs keeps them pending, as Yjs does), and whether they were cut back to those clocks
    /// because there was no room for them.
    pub late_deletes: usize,
    /// See `late_deletes`.
    pub deletes_cut: bool,
    /// Where the input's delete set starts.
    pub delete_set_at: usize,
}

/// One client's blocks past a gap, as an update of their own (no deletions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRun {
    /// The client.
    pub client: u64,
    /// The clock of its first block: it fits once the document has every clock before it.
    pub start: u64,
    /// The clock after its last block.
    pub end: u64,
    /// How many blocks it has.
    pub blocks: usize,
    /// The v1 update of those blocks alone.
    pub update: Vec<u8>,
}

/// One client's run of blocks in a v1 update.
struct Section {
    client: u64,
    blocks: Vec<BlockAt>,
}

fn write_var(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn write_sections(out: &mut Vec<u8>, bytes: &[u8], sections: &[(u64, &[BlockAt])]) {
    write_var(out, sections.len() as u64);
    for (client, blocks) in sections {
        write_var(out, blocks.len() as u64);
        write_var(out, *client);
        write_var(out, blocks[0].1);
        for (range, ..) in blocks.iter() {
            out.extend_from_slice(&bytes[range.clone()]);
        }
    }
}

/// Checks a v1 update like [`validate::update_v1`] and splits it against the document's state vector
/// (`clock_of(client)`), whose own client id is `own`: per client, the blocks up to the first gap (a block starting past
/// what the document and the earlier blocks cover, or a Skip) can be integrated now; the rest
/// is held. yrs 0.28 integrates a block after a gap at once, leaving a placeholder, and a
/// later block that overlaps the placeholder's end underflows a clock in yrs (a panic natively,
/// silent store corruption on wasm32) — found by the `frame` fuzz target. Yjs keeps such
/// blocks pending instead, which is what holding them does.
///
/// Delete ranges past the document's clocks are kept (pending) while they number at most
/// `delete_room`; past it every one of them is cut back to the clocks the document has, so
/// that a delete set for clients nobody sent cannot grow the document for good.
pub fn split_v1(
    bytes: &[u8],
    limits: &Limits,
    own: Option<u64>,
    clock_of: impl Fn(u64) -> u64,
    delete_room: usize,
) -> Result<Split, DecodeError> {
    // Sections without blocks are never visited and have nothing to split.
    let mut sections: Vec<Section> = Vec::new();
    let mut current = None;
    let ds = validate::blocks_v1(bytes, limits, |section, client, b| {
        if current != Some(section) {
            current = Some(section);
            sections.push(Section {
                client,
                blocks: Vec::new(),
            });
        }
        if let Some(last) = sections.last_mut() {
            last.blocks.push(b);
        }
    })?;

    let mut now = Vec::new();
    let mut held = Vec::new();
    let (mut new_blocks, mut new_bytes) = (0, 0);
    let mut cut = false;
    // Per client, the clock the document has once `now` is applied.
    let mut ends: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    for sec in &sections {
        // Only this document writes its own clocks: anything past them is refused whole (Yjs
        // would switch to a new client id; yrs cannot, and such blocks broke its accounting in
        // fuzzing: fuzz/artifacts/frame/crash-a529718a…).
        // A document that has written nothing under its id yet may load its own past (a
        // fixed clientID restored from storage).
        if Some(sec.client) == own
            && clock_of(sec.client) > 0
            && sec
                .blocks
                .last()
                .is_some_and(|(_, clock, len, _)| clock + len > clock_of(sec.client))
        {
            return Err(DecodeError::OwnClientId);
        }
        let mut end = clock_of(sec.client);
        let mut k = 0;
        while k < sec.blocks.len() {
            let (_, clock, len, skip) = sec.blocks[k];
            if skip || clock > end {
                break;
            }
            end = end.max(clock + len);
            k += 1;
        }
        let e = ends.entry(sec.client).or_insert(end);
        *e = (*e).max(end);
        if k > 0 {
            now.push((sec.client, &sec.blocks[..k]));
            let known = clock_of(sec.client);
            for (range, clock, len, _) in &sec.blocks[..k] {
                if clock + len > known {
                    new_blocks += 1;
                    new_bytes += range.len();
                }
            }
        }
        if k < sec.blocks.len() {
            cut = true;
            // A held run never starts with a Skip: it starts at the next real block.
            let rest = &sec.blocks[k..];
            if let Some(first) = rest.iter().position(|b| !b.3) {
                held.push((sec.client, &rest[first..]));
            }
        }
    }
    let now_blocks = now.iter().map(|(_, b)| b.len()).sum();
    let now_clients = now.iter().map(|(c, _)| *c).collect();
    let end_of = |c: u64| ends.get(&c).copied().unwrap_or_else(|| clock_of(c));
    let late_deletes = late_ranges(&bytes[ds..], &end_of, None)?;
    let deletes_cut = late_deletes > delete_room;
    if !cut && !deletes_cut {
        return Ok(Split {
            now: None,
            held: Vec::new(),
            now_blocks,
            now_clients,
            new_blocks,
            new_bytes,
            late_deletes,
            deletes_cut,
            delete_set_at: ds,
        });
    }
    let mut now_bytes = Vec::with_capacity(bytes.len());
    if cut {
        write_sections(&mut now_bytes, bytes, &now);
    } else {
        now_bytes.extend_from_slice(&bytes[..ds]);
    }
    if deletes_cut {
        late_ranges(&bytes[ds..], &end_of, Some(&mut now_bytes))?;
    } else {
        now_bytes.extend_from_slice(&bytes[ds..]);
    }
    let held = held
        .into_iter()
        .map(|(client, blocks)| {
            let mut update = Vec::new();
            write_sections(&mut update, bytes, &[(client, blocks)]);
            update.push(0); // no deletions: they all went with `now`
            let (_, first, ..) = blocks[0];
            let end = blocks.last().map_or(first, |(_, c, len, _)| c + len);
            HeldRun {
                client,
                start: first,
                end,
                blocks: blocks.len(),
                update,
            }
        })
        .collect();
    Ok(Split {
        now: Some(now_bytes),
        held,
        now_blocks,
        now_clients,
        new_blocks,
        new_bytes,
        late_deletes,
        deletes_cut,
        delete_set_at: ds,
    })
}

/// What a checked v1 update whose delete set starts at `delete_set_at` tells about the
/// server, for acknowledgements: the ids of its blocks (decoded by yrs, held ones included)
/// and its deletions within the clocks the document has (`clock_of`). A local deletion only
/// ever targets clocks the document has, so ranges past them can never confirm one, and
/// keeping them would let a peer grow this set for good (and have yrs decode all of them).
pub fn server_ids(
    update: &[u8],
    delete_set_at: usize,
    clock_of: impl Fn(u64) -> u64,
) -> Result<(yrs::IdSet, yrs::IdSet), DecodeError> {
    use yrs::updates::decoder::Decode;
    let blocks = update.get(..delete_set_at).unwrap_or(update);
    let insertions = if blocks.first() == Some(&0) {
        yrs::IdSet::new()
    } else {
        let mut only_blocks = Vec::with_capacity(blocks.len() + 1);
        only_blocks.extend_from_slice(blocks);
        only_blocks.push(0);
        yrs::Update::decode_v1(&only_blocks)
            .map_err(|e| DecodeError::Yrs(e.to_string()))?
            .insertions(true)
    };
    let mut deletions = yrs::IdSet::new();
    let mut r = validate::Reader::new(update.get(delete_set_at..).unwrap_or_default());
    for _ in 0..r.count(2)? {
        let client = r.client_id()?;
        let end = clock_of(client);
        for _ in 0..r.count(2)? {
            let clock = r.var_u32()?;
            let len = r.var_u32()?;
            let upto = (u64::from(clock) + u64::from(len)).min(end);
            if upto > u64::from(clock) {
                deletions.insert(
                    yrs::ID::new(yrs::ClientID::new(client), clock),
                    (upto - u64::from(clock)) as u32,
                );
            }
        }
    }
    Ok((insertions, deletions))
}

/// Counts the ranges of a checked v1 delete set (`ds`) that reach past `end_of(client)`; with
/// `out`, also writes the delete set with those ranges cut back to it (ranges wholly past it
/// dropped, clients left without ranges dropped).
fn late_ranges(
    ds: &[u8],
    end_of: &dyn Fn(u64) -> u64,
    out: Option<&mut Vec<u8>>,
) -> Result<usize, DecodeError> {
    let mut r = validate::Reader::new(ds);
    let mut late = 0;
    let mut kept: Vec<(u64, Vec<(u64, u64)>)> = Vec::new();
    for _ in 0..r.count(2)? {
        let client = r.client_id()?;
        let end = end_of(client);
        let mut ranges = Vec::new();
        for _ in 0..r.count(2)? {
            let clock = u64::from(r.var_u32()?);
            let len = u64::from(r.var_u32()?);
            if clock + len > end {
                late += 1;
                if clock < end && out.is_some() {
                    ranges.push((clock, end - clock));
                }
            } else if out.is_some() {
                ranges.push((clock, len));
            }
        }
        if out.is_some() && !ranges.is_empty() {
            kept.push((client, ranges));
        }
    }
    if let Some(out) = out {
        write_var(out, kept.len() as u64);
        for (client, ranges) in kept {
            write_var(out, client);
            write_var(out, ranges.len() as u64);
            for (clock, len) in ranges {
                write_var(out, clock);
                write_var(out, len);
            }
        }
    }
    Ok(late)
}
