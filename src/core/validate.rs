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
    /// Most blocks held past a gap (waiting for missing clocks) at once, per document.
    pub max_held_blocks: usize,
    /// Most bytes of such blocks held at once, per document.
    pub max_held_bytes: usize,
    /// Most delete ranges a document keeps for clocks it has not received yet (Yjs's pending
    /// delete set, written out again by every full encoding); ranges past it are cut back to
    /// the clocks the document has.
    pub max_pending_deletes: usize,
    /// Deepest nesting of `Any` values (arrays / objects) inside an update.
    pub max_depth: usize,
    /// Largest JSON state of one awareness entry, in bytes.
    pub max_awareness_state: usize,
    /// Most remote clients whose awareness is known at once; entries of new clients past it
    /// are refused with [`SyncError::AwarenessLimit`](crate::core::error::SyncError).
    pub max_awareness_clients: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: 64 * 1024 * 1024,
            max_held_blocks: 100_000,
            max_held_bytes: 32 * 1024 * 1024,
            max_pending_deletes: 10_000,
            max_depth: 256,
            max_awareness_state: 64 * 1024,
            max_awareness_clients: crate::core::awareness::MAX_CLIENTS,
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

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next byte, not consumed.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
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

    /// Reads a flag: a byte that is 0 (false) or 1 (true), anything else refused.
    pub fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            n => Err(DecodeError::UnknownContent(n)),
        }
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
        let (v, negative) = self.var_signed()?;
        let v = i64::try_from(v).map_err(|_| DecodeError::VarIntOverflow)?;
        Ok(if negative { -v } else { v })
    }

    /// Reads a signed varInt as magnitude and sign (lib0 tells -0 from 0), the magnitude
    /// below 2^63.
    pub fn var_signed(&mut self) -> Result<(u64, bool), DecodeError> {
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
        if value > i64::MAX as u64 {
            return Err(DecodeError::VarIntOverflow);
        }
        Ok((value, negative))
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
    update(&mut V1(Reader::new(bytes)), limits)
}

/// Checks a v2 update (lib0's column encoding) against `limits`.
pub fn update_v2(bytes: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    update(&mut V2::new(bytes)?, limits)
}

/// The reads yrs's update decoders make (`yrs::updates::decoder::Decoder`), so that one walk
/// checks both encodings exactly the way yrs will read them. Where yrs would overflow an
/// integer (a panic in debug builds, a silent wrap in release), the check fails instead.
trait Source<'a> {
    /// The main byte stream (v1: everything; v2: what is not in a column).
    fn rest(&mut self) -> &mut Reader<'a>;
    /// Most blocks one client section may declare.
    fn max_blocks(&self) -> usize;
    /// Most strings the input can still yield.
    fn max_strings(&self) -> usize;
    fn client(&mut self) -> Result<u64, DecodeError>;
    fn info(&mut self) -> Result<u8, DecodeError>;
    fn id(&mut self, right: bool) -> Result<(), DecodeError>;
    fn parent_is_named(&mut self) -> Result<bool, DecodeError>;
    fn string(&mut self) -> Result<&'a str, DecodeError>;
    fn key(&mut self) -> Result<(), DecodeError>;
    fn type_ref(&mut self) -> Result<u8, DecodeError>;
    fn len(&mut self) -> Result<u32, DecodeError>;
    fn json(&mut self, limits: &Limits) -> Result<(), DecodeError>;
    fn ds_reset(&mut self);
    fn ds_range(&mut self) -> Result<(), DecodeError>;
}

fn update<'a, S: Source<'a>>(s: &mut S, limits: &Limits) -> Result<(), DecodeError> {
    walk(s, limits, |_, _, _| {}).map(|_| ())
}

/// Checks a whole update, showing `visit(section, client, block)` every block (its byte range
/// is a position in the main stream, which is the whole input only for v1). Returns where the
/// delete set starts in the main stream.
fn walk<'a, S: Source<'a>>(
    s: &mut S,
    limits: &Limits,
    mut visit: impl FnMut(usize, u64, BlockAt),
) -> Result<usize, DecodeError> {
    // A client section takes at least two bytes of the main stream (block count, clock).
    let clients = s.rest().count(2)?;
    for section in 0..clients {
        let blocks = s.rest().var_u32()? as usize;
        if blocks > s.max_blocks() {
            return Err(DecodeError::CountOutOfBounds {
                count: blocks as u64,
                bound: s.max_blocks() as u64,
            });
        }
        let client = s.client()?;
        let mut clock = u64::from(s.rest().var_u32()?);
        for _ in 0..blocks {
            let start = s.rest().position();
            // GC and Skip are matched on the whole info byte (see `block`).
            let skip = s.rest().peek() == Some(10);
            let len = block(s, limits)?;
            visit(
                section,
                client,
                (start..s.rest().position(), clock, len, skip),
            );
            clock += len;
            if clock > u64::from(u32::MAX) {
                return Err(DecodeError::ClockOverflow);
            }
        }
    }
    // Delete set: clients, each a list of ranges.
    let ds = s.rest().position();
    let clients = s.rest().count(2)?;
    for _ in 0..clients {
        s.ds_reset();
        s.rest().client_id()?;
        let ranges = s.rest().count(2)?;
        for _ in 0..ranges {
            s.ds_range()?;
        }
    }
    s.rest().finish()?;
    Ok(ds)
}

const BIT_ORIGIN: u8 = 0x80;
const BIT_RIGHT_ORIGIN: u8 = 0x40;
const BIT_PARENT_SUB: u8 = 0x20;

/// Checks one block; returns its length in clock units (an upper bound for strings).
fn block<'a, S: Source<'a>>(s: &mut S, limits: &Limits) -> Result<u64, DecodeError> {
    let info = s.info()?;
    match info {
        // yrs matches GC and Skip on the whole info byte.
        0 => return Ok(u64::from(s.len()?)),
        10 => return Ok(u64::from(s.rest().var_u32()?)),
        _ => {}
    }
    // Bit 4 is unused by Yjs; yrs would ignore it, we refuse it.
    if info & 0x10 != 0 {
        return Err(DecodeError::UnknownContent(info & 0x1f));
    }
    if info & BIT_ORIGIN != 0 {
        s.id(false)?;
    }
    if info & BIT_RIGHT_ORIGIN != 0 {
        s.id(true)?;
    }
    if info & (BIT_ORIGIN | BIT_RIGHT_ORIGIN) == 0 {
        // Parent: a root type name, or the id of the item that holds the type.
        if s.parent_is_named()? {
            s.string()?;
        } else {
            s.id(false)?;
        }
        if info & BIT_PARENT_SUB != 0 {
            s.string()?;
        }
    }
    content(s, info & 0x0f, limits)
}

/// The length of `s` in UTF-16 code units, counted on its bytes: one unit per character (each
/// byte that is not a continuation byte) and one more per 4-byte character. The same as
/// `s.encode_utf16().count()`, which decodes every character. Eight bytes at a time: wasm has
/// no SIMD here, and a byte-by-byte count was the largest part of decoding a long text
/// (`node bench/profile.mjs big` shows what it costs now).
fn utf16_len(s: &str) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // `as_chunks` gives arrays, so each word is one load: at opt-level "z" a `copy_from_slice`
    // into an array stays a call per word, which made this loop several times slower.
    let (words, rest) = s.as_bytes().as_chunks::<8>();
    let mut n = 0;
    for &w in words {
        let w = u64::from_le_bytes(w);
        if w & HIGH == 0 {
            n += 8;
            continue;
        }
        // Shifting left by one moves each byte's bit 6 under its bit 7 (the bits that cross
        // into the next byte land outside HIGH): 10xxxxxx is a continuation byte, 1111xxxx
        // leads a 4-byte character.
        let continuation = w & !(w << 1) & HIGH;
        let four = w & (w << 1) & (w << 2) & (w << 3) & HIGH;
        n += 8 - continuation.count_ones() as usize + four.count_ones() as usize;
    }
    n + rest
        .iter()
        .map(|&b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0))
        .sum::<usize>()
}

/// Checks an item's content; returns its length in clock units.
fn content<'a, S: Source<'a>>(s: &mut S, kind: u8, limits: &Limits) -> Result<u64, DecodeError> {
    match kind {
        // Deleted
        1 => Ok(u64::from(s.len()?)),
        // JSON strings. yrs 0.28 reads one string more than the count it is given (its encoder
        // writes the count Yjs does); the check follows what yrs will read.
        2 => {
            let n = s.len()? as usize + 1;
            if n > s.max_strings() {
                return Err(DecodeError::CountOutOfBounds {
                    count: n as u64,
                    bound: s.max_strings() as u64,
                });
            }
            for _ in 0..n {
                json_text(s.string()?, limits)?;
            }
            Ok(n as u64)
        }
        // Binary (main stream in both encodings)
        3 => s.rest().var_bytes().map(|_| 1),
        // String: its clock length is in UTF-16 units.
        4 => s.string().map(|t| utf16_len(t) as u64),
        // Embed
        5 => s.json(limits).map(|_| 1),
        // Format: key + JSON value
        6 => {
            s.key()?;
            s.json(limits).map(|_| 1)
        }
        // Type
        7 => {
            match s.type_ref()? {
                // XmlElement carries a name.
                3 => s.key()?,
                0 | 1 | 2 | 4 | 6 => {}
                // Yjs writes a name after XmlHook, yrs does not read one: the two disagree on
                // where the next struct starts, so neither reading is safe to accept.
                other => return Err(DecodeError::UnknownTypeRef(u32::from(other))),
            }
            Ok(1)
        }
        // Any values (main stream), at least one byte each
        8 => {
            let n = s.len()? as usize;
            let bound = s.rest().remaining();
            if n > bound {
                return Err(DecodeError::CountOutOfBounds {
                    count: n as u64,
                    bound: bound as u64,
                });
            }
            for _ in 0..n {
                any(s.rest(), 0, limits)?;
            }
            Ok(n as u64)
        }
        // Doc: guid + options
        9 => {
            s.string()?;
            any(s.rest(), 0, limits)?;
            Ok(1)
        }
        other => Err(DecodeError::UnknownContent(other)),
    }
}

/// A block's byte range, clock, length, and whether it is a Skip.
pub(crate) type BlockAt = (std::ops::Range<usize>, u64, u64, bool);

/// Checks a v1 update like [`update_v1`], showing `visit(section, client, block)` every block.
/// Returns where the delete set starts.
pub(crate) fn blocks_v1(
    bytes: &[u8],
    limits: &Limits,
    visit: impl FnMut(usize, u64, BlockAt),
) -> Result<usize, DecodeError> {
    walk(&mut V1(Reader::new(bytes)), limits, visit)
}

/// v1: everything in one stream.
struct V1<'a>(Reader<'a>);

impl<'a> Source<'a> for V1<'a> {
    fn rest(&mut self) -> &mut Reader<'a> {
        &mut self.0
    }
    fn max_blocks(&self) -> usize {
        // A block is at least an info byte and a length.
        self.0.remaining() / 2
    }
    fn max_strings(&self) -> usize {
        self.0.remaining()
    }
    fn client(&mut self) -> Result<u64, DecodeError> {
        self.0.client_id()
    }
    fn info(&mut self) -> Result<u8, DecodeError> {
        self.0.u8()
    }
    fn id(&mut self, _right: bool) -> Result<(), DecodeError> {
        self.0.client_id()?;
        self.0.var_u32().map(|_| ())
    }
    fn parent_is_named(&mut self) -> Result<bool, DecodeError> {
        Ok(self.0.var_u32()? == 1)
    }
    fn string(&mut self) -> Result<&'a str, DecodeError> {
        self.0.var_str()
    }
    fn key(&mut self) -> Result<(), DecodeError> {
        self.0.var_str().map(|_| ())
    }
    fn type_ref(&mut self) -> Result<u8, DecodeError> {
        self.0.u8()
    }
    fn len(&mut self) -> Result<u32, DecodeError> {
        self.0.var_u32()
    }
    fn json(&mut self, limits: &Limits) -> Result<(), DecodeError> {
        json_text(self.0.var_str()?, limits)
    }
    fn ds_reset(&mut self) {}
    fn ds_range(&mut self) -> Result<(), DecodeError> {
        let clock = u64::from(self.0.var_u32()?);
        let len = u64::from(self.0.var_u32()?);
        if clock + len > u64::from(u32::MAX) {
            return Err(DecodeError::ClockOverflow);
        }
        Ok(())
    }
}

/// v2: a feature byte, nine length-prefixed columns, then the main stream.
struct V2<'a> {
    rest: Reader<'a>,
    total: usize,
    key_clock: IntDiffRle<'a>,
    client: UintRle<'a>,
    left_clock: IntDiffRle<'a>,
    right_clock: IntDiffRle<'a>,
    info: ByteRle<'a>,
    strings: Strings<'a>,
    parent_info: ByteRle<'a>,
    type_ref: UintRle<'a>,
    len: UintRle<'a>,
    keys: usize,
    ds: u64,
}

impl<'a> V2<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.u8()?; // feature flag, unused
        let key_clock = IntDiffRle::new(r.var_bytes()?);
        let client = UintRle::new(r.var_bytes()?);
        let left_clock = IntDiffRle::new(r.var_bytes()?);
        let right_clock = IntDiffRle::new(r.var_bytes()?);
        let info = ByteRle::new(r.var_bytes()?);
        let strings = Strings::new(r.var_bytes()?)?;
        let parent_info = ByteRle::new(r.var_bytes()?);
        let type_ref = UintRle::new(r.var_bytes()?);
        let len = UintRle::new(r.var_bytes()?);
        Ok(V2 {
            rest: r,
            total: bytes.len(),
            key_clock,
            client,
            left_clock,
            right_clock,
            info,
            strings,
            parent_info,
            type_ref,
            len,
            keys: 0,
            ds: 0,
        })
    }

    fn client_id(&mut self) -> Result<u64, DecodeError> {
        let id = self.client.next()?;
        if id > MAX_CLIENT_ID {
            return Err(DecodeError::ClientIdOutOfRange(id));
        }
        Ok(id)
    }
}

impl<'a> Source<'a> for V2<'a> {
    fn rest(&mut self) -> &mut Reader<'a> {
        &mut self.rest
    }
    fn max_blocks(&self) -> usize {
        // Run-length columns let a few bytes describe many blocks; one block per input byte
        // keeps what yrs preallocates proportional to the input.
        self.total
    }
    fn max_strings(&self) -> usize {
        // Every string checked as JSON is at least one character.
        self.strings.remaining()
    }
    fn client(&mut self) -> Result<u64, DecodeError> {
        self.client_id()
    }
    fn info(&mut self) -> Result<u8, DecodeError> {
        self.info.next()
    }
    fn id(&mut self, right: bool) -> Result<(), DecodeError> {
        self.client_id()?;
        if right {
            self.right_clock.next().map(|_| ())
        } else {
            self.left_clock.next().map(|_| ())
        }
    }
    fn parent_is_named(&mut self) -> Result<bool, DecodeError> {
        Ok(self.parent_info.next()? == 1)
    }
    fn string(&mut self) -> Result<&'a str, DecodeError> {
        self.strings.next()
    }
    fn key(&mut self) -> Result<(), DecodeError> {
        // Keys are interned: a clock below the number seen so far reuses one.
        if (self.key_clock.next()? as usize) < self.keys {
            return Ok(());
        }
        self.strings.next()?;
        self.keys += 1;
        Ok(())
    }
    fn type_ref(&mut self) -> Result<u8, DecodeError> {
        // yrs truncates to u8.
        Ok(self.type_ref.next()? as u8)
    }
    fn len(&mut self) -> Result<u32, DecodeError> {
        // yrs truncates to u32.
        Ok(self.len.next()? as u32)
    }
    fn json(&mut self, limits: &Limits) -> Result<(), DecodeError> {
        any(&mut self.rest, 0, limits)
    }
    fn ds_reset(&mut self) {
        self.ds = 0;
    }
    fn ds_range(&mut self) -> Result<(), DecodeError> {
        self.ds += u64::from(self.rest.var_u32()?);
        self.ds += u64::from(self.rest.var_u32()?) + 1;
        if self.ds > u64::from(u32::MAX) {
            return Err(DecodeError::ClockOverflow);
        }
        Ok(())
    }
}

fn overflow<T>(v: Option<T>) -> Result<T, DecodeError> {
    v.ok_or(DecodeError::VarIntOverflow)
}

/// lib0 `UintOptRleDecoder`: a value, negative when a repeat count follows.
struct UintRle<'a> {
    r: Reader<'a>,
    last: u64,
    count: u32,
}

impl<'a> UintRle<'a> {
    fn new(buf: &'a [u8]) -> Self {
        UintRle {
            r: Reader::new(buf),
            last: 0,
            count: 0,
        }
    }
    fn next(&mut self) -> Result<u64, DecodeError> {
        if self.count == 0 {
            let (value, negative) = self.r.var_signed()?;
            self.last = value;
            self.count = if negative {
                overflow(self.r.var_u32()?.checked_add(2))?
            } else {
                1
            };
        }
        self.count -= 1;
        Ok(self.last)
    }
}

/// lib0 `IntDiffOptRleDecoder`: a difference (low bit: a repeat count follows).
struct IntDiffRle<'a> {
    r: Reader<'a>,
    last: i32,
    diff: i32,
    count: u32,
}

impl<'a> IntDiffRle<'a> {
    fn new(buf: &'a [u8]) -> Self {
        IntDiffRle {
            r: Reader::new(buf),
            last: 0,
            diff: 0,
            count: 0,
        }
    }
    fn next(&mut self) -> Result<u32, DecodeError> {
        if self.count == 0 {
            let v = overflow(i32::try_from(self.r.var_i64()?).ok())?;
            self.diff = v >> 1;
            self.count = if v & 1 != 0 {
                overflow(self.r.var_u32()?.checked_add(2))?
            } else {
                1
            };
        }
        self.last = overflow(self.last.checked_add(self.diff))?;
        self.count -= 1;
        Ok(self.last as u32)
    }
}

/// lib0 `RleDecoder` of bytes: a byte and a repeat count (forever when the column ends).
struct ByteRle<'a> {
    r: Reader<'a>,
    last: u8,
    count: i64,
}

impl<'a> ByteRle<'a> {
    fn new(buf: &'a [u8]) -> Self {
        ByteRle {
            r: Reader::new(buf),
            last: 0,
            count: 0,
        }
    }
    fn next(&mut self) -> Result<u8, DecodeError> {
        if self.count == 0 {
            self.last = self.r.u8()?;
            self.count = if self.r.is_empty() {
                -1
            } else {
                // yrs keeps this count in an i32.
                let n = self.r.var_u32()?;
                if n >= i32::MAX as u32 {
                    return Err(DecodeError::VarIntOverflow);
                }
                i64::from(n) + 1
            };
        }
        self.count -= 1;
        Ok(self.last)
    }
}

/// lib0 `StringDecoder`: all strings in one UTF-8 buffer, then their UTF-16 lengths.
struct Strings<'a> {
    text: &'a str,
    pos: usize,
    lens: UintRle<'a>,
}

impl<'a> Strings<'a> {
    fn new(column: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(column);
        let text = std::str::from_utf8(r.var_bytes()?).map_err(|_| DecodeError::InvalidUtf8)?;
        let rest = &column[column.len() - r.remaining()..];
        Ok(Strings {
            text,
            pos: 0,
            lens: UintRle::new(rest),
        })
    }
    fn remaining(&self) -> usize {
        self.text.len() - self.pos
    }
    fn next(&mut self) -> Result<&'a str, DecodeError> {
        // yrs casts the length to usize (32 bits on wasm32).
        let mut units = overflow(u32::try_from(self.lens.next()?).ok())?;
        let start = &self.text[self.pos..];
        let mut end = 0;
        for c in start.chars() {
            if units == 0 {
                break;
            }
            // A length that splits a surrogate pair underflows in yrs.
            units = overflow(units.checked_sub(c.len_utf16() as u32))?;
            end += c.len_utf8();
        }
        self.pos += end;
        Ok(&start[..end])
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
    use yrs::updates::encoder::Encode;
    use yrs::{Array, Doc, GetString, Map, ReadTxn, Text, Transact, Update};

    #[test]
    fn utf16_len_counts_as_encode_utf16_does() {
        let mut rng = fastrand::Rng::with_seed(16);
        // One-, two-, three- and four-byte characters, surrogates' neighbours included.
        let pool = [
            'a',
            '\0',
            '\u{7f}',
            '\u{80}',
            'é',
            '\u{7ff}',
            '\u{800}',
            '€',
            '\u{d7ff}',
            '\u{e000}',
            '\u{fffd}',
            '\u{ffff}',
            '\u{10000}',
            '🦀',
            '\u{10ffff}',
        ];
        for i in 0..4_000 {
            // Half of the strings mostly ASCII, so that whole 8-byte words of it occur.
            let ascii = if i % 2 == 0 { 90 } else { 0 };
            let s: String = (0..rng.usize(0..100))
                .map(|_| {
                    if rng.u8(0..100) < ascii {
                        'a'
                    } else {
                        pool[rng.usize(0..pool.len())]
                    }
                })
                .collect();
            assert_eq!(utf16_len(&s), s.encode_utf16().count(), "{s:?}");
        }
    }

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

    fn sample_update_v2() -> Vec<u8> {
        let u = Update::decode_v1(&sample_update()).unwrap();
        u.encode_v2()
    }

    #[test]
    fn accepts_real_v2_updates() {
        let u = sample_update_v2();
        update_v2(&u, &Limits::default()).unwrap();
        Update::decode_v2(&u).unwrap();
    }

    #[test]
    fn v2_mutations_never_panic() {
        let u = sample_update_v2();
        for cut in 0..u.len() {
            let _ = update_v2(&u[..cut], &Limits::default());
        }
        for i in 0..u.len() {
            for b in [0x00, 0x7f, 0x80, 0xff] {
                let mut m = u.clone();
                m[i] = b;
                if update_v2(&m, &Limits::default()).is_ok() {
                    // What the checks accept, yrs decodes without panicking.
                    let _ = Update::decode_v2(&m);
                }
            }
        }
    }

    /// A v2 update built by hand: the nine columns, then the main stream.
    fn v2(columns: [&[u8]; 9], rest: &[u8]) -> Vec<u8> {
        let mut out = vec![0];
        for c in columns {
            out.push(c.len() as u8);
            out.extend_from_slice(c);
        }
        out.extend_from_slice(rest);
        out
    }

    #[test]
    fn v2_string_length_splitting_a_surrogate_pair_is_rejected() {
        // One client (id 1 in the client column), one block: info 4 (string) with a named
        // parent "t" and a string of 1 UTF-16 unit where the text holds a 2-unit crab.
        let strings = [5, b't', 0xf0, 0x9f, 0xa6, 0x80, 1, 1];
        let u = v2(
            [&[], &[1], &[], &[], &[4], &strings, &[1], &[], &[]],
            &[1, 1, 0, 0],
        );
        assert!(matches!(
            update_v2(&u, &Limits::default()),
            Err(DecodeError::VarIntOverflow)
        ));
        // With the right length (2) it is accepted and yrs agrees.
        let strings = [5, b't', 0xf0, 0x9f, 0xa6, 0x80, 1, 2];
        let u = v2(
            [&[], &[1], &[], &[], &[4], &strings, &[1], &[], &[]],
            &[1, 1, 0, 0],
        );
        update_v2(&u, &Limits::default()).unwrap();
        Update::decode_v2(&u).unwrap();
    }

    #[test]
    fn v2_block_count_beyond_the_input_is_rejected() {
        // Run-length columns could repeat one GC block forever; 2^25 blocks is refused before
        // yrs reserves room for them.
        let u = v2(
            [&[], &[1], &[], &[], &[0], &[0], &[], &[], &[1]],
            &[1, 0x80, 0x80, 0x80, 0x10, 0, 0],
        );
        assert!(matches!(
            update_v2(&u, &Limits::default()),
            Err(DecodeError::CountOutOfBounds { .. })
        ));
    }

    #[test]
    fn v2_run_length_count_overflow_is_rejected() {
        // A client column run of 0xFFFFFFFF + 2 overflows yrs's u32 counter.
        let clients = [0x41, 0xff, 0xff, 0xff, 0xff, 0x0f];
        let u = v2(
            [&[], &clients, &[], &[], &[0], &[0], &[], &[], &[1]],
            &[1, 1, 0, 0],
        );
        assert!(update_v2(&u, &Limits::default()).is_err());
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
