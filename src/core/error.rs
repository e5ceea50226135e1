//! Errors of the sans-IO core.

use thiserror::Error;

/// Why untrusted bytes were rejected before they reached yrs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended in the middle of a value.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A varint does not fit the type it encodes.
    #[error("variable-length integer overflows")]
    VarIntOverflow,
    /// A length prefix points past the end of the input.
    #[error("declared length {declared} exceeds the {remaining} bytes remaining")]
    LengthOutOfBounds {
        /// Declared length.
        declared: u64,
        /// Bytes actually left.
        remaining: usize,
    },
    /// A count is larger than the remaining bytes could hold.
    #[error("count {count} exceeds the bound {bound} implied by the remaining bytes")]
    CountOutOfBounds {
        /// Declared count.
        count: u64,
        /// Largest count the input could hold.
        bound: u64,
    },
    /// A client id above 2^53 - 1.
    #[error("client id {0} is out of range")]
    ClientIdOutOfRange(u64),
    /// Clock plus length overflows 32 bits.
    #[error("clock overflows 32 bits")]
    ClockOverflow,
    /// Bytes left over after a complete value.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// A string that is not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// JSON text that does not parse.
    #[error("invalid JSON")]
    InvalidJson,
    /// Nesting deeper than the limit.
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    /// Unknown item content kind.
    #[error("unknown content kind {0}")]
    UnknownContent(u8),
    /// Unknown shared type reference.
    #[error("unknown type reference {0}")]
    UnknownTypeRef(u32),
    /// Unknown `Any` tag.
    #[error("unknown value tag {0}")]
    UnknownAnyTag(u8),
    /// Blocks under this document's own client id that it never wrote (another replica with
    /// the same id, or a forged update); yrs cannot integrate them safely.
    #[error("update writes clocks of this document's own client id it never wrote")]
    OwnClientId,
    /// Unknown sync message sub-type.
    #[error("unknown sync message type {0}")]
    UnknownSyncType(u64),
    /// Unknown auth message sub-type.
    #[error("unknown auth message type {0}")]
    UnknownAuthType(u64),
    /// An awareness state larger than the limit.
    #[error("awareness state of {size} bytes exceeds {max}")]
    AwarenessStateTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A stored row that is not bytes at all.
    #[error("a stored row is not bytes")]
    NotBytes,
    /// Text longer than the limit for what it holds (a relative position's JSON...).
    #[error("{what} of {size} bytes exceeds {max}")]
    TooLong {
        /// What the text is.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Applying the update would take the document past its memory budget (an estimate,
    /// see `gate::cost`); nothing of it was applied.
    #[error("applying it would cost about {cost} bytes of memory; {left} are left of the document's budget")]
    OverBudget {
        /// The update's estimated cost.
        cost: u64,
        /// What is left of the budget.
        left: u64,
    },
    /// yrs rejected input that passed the structural checks.
    #[error("rejected by yrs: {0}")]
    Yrs(String),
}

/// Errors reported by a [`Session`](crate::core::session::Session) as events.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SyncError {
    /// A frame from the server did not decode; the connection is closed.
    #[error("malformed frame: {0}")]
    MalformedFrame(#[from] DecodeError),
    /// A frame over the size limit; the connection is closed.
    #[error("frame of {size} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A frame of a message type this client does not know; the rest of the frame is ignored.
    #[error("unknown message type {0}")]
    UnknownMessageType(u64),
    /// The server did not answer a probe in time; the connection is closed.
    #[error("no answer from the server for {0} ms")]
    Timeout(u64),
    /// The server keeps answering without holding local changes sent to it.
    #[error("the server did not apply local changes after {0} attempts")]
    NotApplied(u32),
    /// The server refused local changes: the connection is read-only.
    #[error("the server refused local changes: this connection is read-only")]
    ReadOnly,
    /// Awareness entries of new clients were refused: the cap on known clients was reached.
    #[error("{refused} awareness entries refused: {max} clients are known already")]
    AwarenessLimit {
        /// Entries refused in this message.
        refused: usize,
        /// The cap (`Limits::max_awareness_clients`).
        max: usize,
    },
    /// An update from the server would take the document past its memory budget: it was not
    /// applied, and the connection stays (the document keeps what it has).
    #[error("an update was refused: {0}")]
    MemoryBudget(DecodeError),
    /// Blocks that arrived past a gap (their client's earlier clocks missing) were refused:
    /// the document holds as many as `Limits::max_held_blocks` / `max_held_bytes` allow. The
    /// rest of the update was applied; a later sync exchange sends the refused blocks again.
    #[error(
        "{blocks} blocks ({bytes} bytes) past a gap refused: the cap on held blocks is reached"
    )]
    HeldLimit {
        /// Blocks refused.
        blocks: usize,
        /// Their size.
        bytes: usize,
    },
    /// Delete ranges for clocks the document has not received (kept pending, as Yjs does)
    /// were cut back to the clocks it has: it keeps as many as
    /// `Limits::max_pending_deletes` allows. The rest of the update was applied; a later
    /// sync exchange sends the cut ranges again.
    #[error("{ranges} delete ranges past the document's clocks cut: the cap on pending deletes is reached")]
    DeleteLimit {
        /// Ranges cut.
        ranges: usize,
    },
}

impl SyncError {
    /// A stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::MalformedFrame(_) => "MALFORMED_FRAME",
            SyncError::FrameTooLarge { .. } => "FRAME_TOO_LARGE",
            SyncError::UnknownMessageType(_) => "UNKNOWN_MESSAGE_TYPE",
            SyncError::Timeout(_) => "TIMEOUT",
            SyncError::NotApplied(_) | SyncError::ReadOnly => "NOT_APPLIED",
            SyncError::AwarenessLimit { .. } => "AWARENESS_LIMIT",
            SyncError::HeldLimit { .. } | SyncError::DeleteLimit { .. } => "HELD_LIMIT",
            SyncError::MemoryBudget(_) => "MEMORY_BUDGET",
        }
    }
}
