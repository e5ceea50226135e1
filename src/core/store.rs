//! What to write to local storage, and when: batching, durability marks, compaction, retries.
//!
//! Commands, not I/O: the adapter runs each [`WriteCommand`] as one IndexedDB transaction and
//! reports back with [`WritePlanner::write_done`] or [`WritePlanner::write_failed`]. A change counts as
//! persisted only after the transaction holding it completed.

/// When to compact, and how to retry.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Compact once the store holds more rows than this.
    pub compact_rows: usize,
    /// Compact once the stored updates exceed this many bytes and at least twice the size of
    /// the last compacted state.
    pub compact_bytes: usize,
    /// First retry delay after a failed write (ms); doubles up to `max_retry_ms`.
    pub retry_ms: u64,
    /// Largest retry delay (ms).
    pub max_retry_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            compact_rows: 500,
            compact_bytes: 4 * 1024 * 1024,
            retry_ms: 500,
            max_retry_ms: 30_000,
        }
    }
}

/// One transaction for the adapter to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCommand {
    /// Append `update` (the merged batch) as one row.
    Append {
        /// Batch id, echoed in `write_done` / `write_failed`.
        id: u64,
        /// v1 update holding every change of the batch.
        update: Vec<u8>,
    },
    /// In one transaction: read every row, fold the rows and the document into one state,
    /// write it, delete the rows that were read. A crash at any point loses nothing.
    Compact {
        /// Batch id.
        id: u64,
    },
}

/// Persistence metrics (see [`WritePlanner::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreStats {
    /// Rows in the store, as far as this instance knows (other tabs' rows are counted by
    /// each transaction).
    pub rows: u64,
    /// Bytes in those rows.
    pub bytes: u64,
    /// Changes recorded but not yet durable.
    pub pending_updates: u64,
    /// Their size in update bytes.
    pub pending_bytes: u64,
    /// Transactions that completed (appends and compactions).
    pub writes: u64,
    /// Compactions that completed.
    pub compactions: u64,
    /// Transactions that failed (each is retried).
    pub write_failures: u64,
    /// Undecodable rows moved out of the store (into the `custom` store, as one array under
    /// `ysync:quarantine:<key of the first>`).
    pub quarantined: u64,
}

#[derive(Debug)]
struct InFlight {
    id: u64,
    /// Marks below this are persisted once the batch completes.
    upto: u64,
    updates: Vec<Vec<u8>>,
}

/// The persistence planner for one document.
#[derive(Debug)]
pub struct WritePlanner {
    cfg: StoreConfig,
    loaded: bool,
    pending: Vec<Vec<u8>>,
    next_mark: u64,
    persisted_upto: u64,
    in_flight: Option<InFlight>,
    next_id: u64,
    rows: usize,
    bytes: usize,
    compacted_bytes: usize,
    failures: u32,
    /// Stored rows that do not decode wait to be quarantined by a compaction.
    clean_up: bool,
    /// Another tab was compacting: no compaction before the next write completes.
    compaction_held: bool,
    counters: StoreStats,
}

impl WritePlanner {
    /// A planner with the given settings; nothing is written before [`loaded`](Self::loaded).
    pub fn new(cfg: StoreConfig) -> Self {
        WritePlanner {
            cfg,
            loaded: false,
            pending: Vec::new(),
            next_mark: 0,
            persisted_upto: 0,
            in_flight: None,
            next_id: 1,
            rows: 0,
            bytes: 0,
            compacted_bytes: 0,
            failures: 0,
            clean_up: false,
            compaction_held: false,
            counters: StoreStats::default(),
        }
    }

    /// A snapshot of the metrics.
    pub fn stats(&self) -> StoreStats {
        let in_flight = self.in_flight.iter().flat_map(|f| f.updates.iter());
        let waiting: Vec<_> = in_flight.chain(self.pending.iter()).collect();
        StoreStats {
            rows: self.rows as u64,
            bytes: self.bytes as u64,
            pending_updates: self.pending(),
            pending_bytes: waiting.iter().map(|u| u.len() as u64).sum(),
            ..self.counters.clone()
        }
    }

    /// The stored rows were read: `rows` of `bytes` in total.
    pub fn loaded(&mut self, rows: usize, bytes: usize) {
        self.loaded = true;
        self.rows = rows;
        self.bytes = bytes;
    }

    /// Records a change to persist; returns its mark.
    pub fn push(&mut self, update: Vec<u8>) -> u64 {
        self.pending.push(update);
        self.next_mark += 1;
        self.next_mark
    }

    /// A mark for "every change recorded until now".
    pub fn mark(&self) -> u64 {
        self.next_mark
    }

    /// True when every change up to `mark` is durable.
    pub fn persisted(&self, mark: u64) -> bool {
        self.persisted_upto >= mark
    }

    /// Changes recorded but not yet durable.
    pub fn pending(&self) -> u64 {
        self.next_mark - self.persisted_upto
    }

    /// Rows and bytes in the store, as far as this instance knows.
    pub fn stored(&self) -> (usize, usize) {
        (self.rows, self.bytes)
    }

    /// Failed attempts since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The load found rows that do not decode: the next transaction is a compaction, which
    /// moves them out of the way (they would otherwise be read, and counted against
    /// `compact_rows`, forever).
    pub fn clean_up(&mut self) {
        self.clean_up = true;
    }

    /// A compaction moved `n` undecodable rows out of the store.
    pub fn quarantined(&mut self, n: usize) {
        self.counters.quarantined += n as u64;
    }

    fn wants_compaction(&self) -> bool {
        !self.compaction_held
            && (self.clean_up
                || self.rows > self.cfg.compact_rows
                || (self.bytes > self.cfg.compact_bytes && self.bytes > 2 * self.compacted_bytes))
    }

    /// Compaction `id` could not run: another tab of the document is compacting (one at a
    /// time). Its changes are appended instead (the command returned, with the same id; none
    /// if there are none, and then the batch is done), and no compaction is planned again
    /// before a write completes.
    pub fn compaction_elsewhere(
        &mut self,
        id: u64,
        merge: impl Fn(&[Vec<u8>]) -> Vec<u8>,
    ) -> Option<WriteCommand> {
        let f = self.in_flight.as_ref().filter(|f| f.id == id)?;
        self.compaction_held = true;
        match f.updates.len() {
            0 => {
                let f = self.in_flight.take()?;
                self.persisted_upto = self.persisted_upto.max(f.upto);
                None
            }
            1 => Some(WriteCommand::Append {
                id,
                update: f.updates[0].clone(),
            }),
            _ => Some(WriteCommand::Append {
                id,
                update: merge(&f.updates),
            }),
        }
    }

    /// The next transaction to run, if any (one at a time). `merge` folds a batch of updates
    /// into one (the adapter passes yrs's merge).
    pub fn next_command(&mut self, merge: impl Fn(&[Vec<u8>]) -> Vec<u8>) -> Option<WriteCommand> {
        if !self.loaded || self.in_flight.is_some() {
            return None;
        }
        let compact = self.wants_compaction();
        if self.pending.is_empty() && !compact {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let updates = std::mem::take(&mut self.pending);
        self.in_flight = Some(InFlight {
            id,
            upto: self.next_mark,
            updates,
        });
        let flight = self.in_flight.as_ref()?;
        if compact {
            // The compacted state is taken from the document, which holds every pending change.
            Some(WriteCommand::Compact { id })
        } else if flight.updates.len() == 1 {
            Some(WriteCommand::Append {
                id,
                update: flight.updates[0].clone(),
            })
        } else {
            Some(WriteCommand::Append {
                id,
                update: merge(&flight.updates),
            })
        }
    }

    /// Transaction `id` completed and the store now holds `rows` rows (counted inside the
    /// transaction, so other tabs' rows are included). `bytes` is the size of the row appended,
    /// or with `compacted` the size of everything stored.
    pub fn write_done(&mut self, id: u64, compacted: bool, rows: usize, bytes: usize) {
        let Some(f) = self.in_flight.take_if(|f| f.id == id) else {
            return;
        };
        self.persisted_upto = self.persisted_upto.max(f.upto);
        self.failures = 0;
        self.compaction_held = false;
        self.counters.writes += 1;
        if compacted {
            self.counters.compactions += 1;
            self.clean_up = false;
        }
        self.rows = rows;
        if compacted {
            self.bytes = bytes;
            self.compacted_bytes = bytes;
        } else {
            self.bytes += bytes;
        }
    }

    /// Transaction `id` failed: its changes go back to the front of the queue. Returns the
    /// delay before trying again (ms).
    pub fn write_failed(&mut self, id: u64) -> u64 {
        if let Some(mut f) = self.in_flight.take_if(|f| f.id == id) {
            f.updates.append(&mut self.pending);
            self.pending = f.updates;
        }
        self.failures = self.failures.saturating_add(1);
        self.counters.write_failures += 1;
        let exp = 1u64
            .checked_shl(self.failures.saturating_sub(1))
            .unwrap_or(u64::MAX);
        self.cfg
            .retry_ms
            .saturating_mul(exp)
            .min(self.cfg.max_retry_ms)
    }

    /// Forget everything (the stored data was cleared).
    pub fn reset(&mut self) {
        self.pending.clear();
        self.in_flight = None;
        self.persisted_upto = self.next_mark;
        self.rows = 0;
        self.bytes = 0;
        self.compacted_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn concat(us: &[Vec<u8>]) -> Vec<u8> {
        us.concat()
    }

    #[test]
    fn undecodable_rows_found_at_load_are_cleaned_up_by_one_compaction() {
        let mut s = WritePlanner::new(StoreConfig::default());
        s.loaded(3, 30);
        assert_eq!(s.next_command(concat), None, "3 rows, nothing pending");
        s.clean_up();
        let Some(WriteCommand::Compact { id }) = s.next_command(concat) else {
            panic!("a compaction, with nothing pending and few rows")
        };
        s.quarantined(2);
        s.write_done(id, true, 1, 10);
        assert_eq!(s.stats().quarantined, 2);
        s.push(vec![1]);
        assert!(
            matches!(s.next_command(concat), Some(WriteCommand::Append { .. })),
            "then appends again"
        );
    }

    #[test]
    fn a_compaction_another_tab_is_running_becomes_an_append_and_waits_for_a_write() {
        let cfg = StoreConfig {
            compact_rows: 2,
            ..StoreConfig::default()
        };
        let mut s = WritePlanner::new(cfg);
        s.loaded(5, 50);
        let m = s.push(vec![1]);
        s.push(vec![2]);
        let Some(WriteCommand::Compact { id }) = s.next_command(concat) else {
            panic!("over compact_rows: a compaction")
        };
        // The other tab holds the compaction lock: the batch is appended instead.
        assert_eq!(
            s.compaction_elsewhere(id, concat),
            Some(WriteCommand::Append {
                id,
                update: vec![1, 2]
            })
        );
        assert!(!s.persisted(m));
        s.push(vec![3]);
        assert_eq!(s.next_command(concat), None, "one transaction at a time");
        s.write_done(id, false, 6, 2);
        assert!(s.persisted(m));
        // A write completed: compacting is tried again.
        let Some(WriteCommand::Compact { id }) = s.next_command(concat) else {
            panic!("a compaction again")
        };
        // Busy again, with nothing of its own to write: the batch is done at once.
        s.write_done(id, true, 1, 10);
        let Some(WriteCommand::Compact { id }) = ({
            s.clean_up();
            s.next_command(concat)
        }) else {
            panic!()
        };
        assert_eq!(s.compaction_elsewhere(id, concat), None);
        assert_eq!(
            s.next_command(concat),
            None,
            "no compaction before a write completes"
        );
        let m = s.push(vec![4]);
        let Some(WriteCommand::Append { id, .. }) = s.next_command(concat) else {
            panic!("an append")
        };
        s.write_done(id, false, 2, 1);
        assert!(s.persisted(m));
        assert!(matches!(
            s.next_command(concat),
            Some(WriteCommand::Compact { .. })
        ));
    }

    #[test]
    fn nothing_before_load_then_batches() {
        let mut s = WritePlanner::new(StoreConfig::default());
        let m1 = s.push(vec![1]);
        assert_eq!(s.next_command(concat), None);
        s.loaded(0, 0);
        let m2 = s.push(vec![2]);
        let Some(WriteCommand::Append { id, update }) = s.next_command(concat) else {
            panic!()
        };
        assert_eq!(update, vec![1, 2], "one transaction for the whole batch");
        // One at a time: later changes wait for the transaction in flight.
        let m3 = s.push(vec![3]);
        assert_eq!(s.next_command(concat), None);
        assert!(!s.persisted(m1));
        s.write_done(id, false, 1, 2);
        assert!(s.persisted(m1) && s.persisted(m2) && !s.persisted(m3));
        let Some(WriteCommand::Append { id, update }) = s.next_command(concat) else {
            panic!()
        };
        assert_eq!(update, vec![3]);
        s.write_done(id, false, 2, 1);
        assert!(s.persisted(m3));
        assert_eq!(s.stored(), (2, 3));
        assert_eq!(s.next_command(concat), None);
    }

    #[test]
    fn failure_keeps_changes_and_backs_off() {
        let mut s = WritePlanner::new(StoreConfig::default());
        s.loaded(0, 0);
        let m = s.push(vec![1]);
        let Some(WriteCommand::Append { id, .. }) = s.next_command(concat) else {
            panic!()
        };
        s.push(vec![2, 2]);
        assert_eq!(s.write_failed(id), 500);
        assert!(!s.persisted(m), "never persisted after a failed write");
        let st = s.stats();
        assert_eq!((st.pending_updates, st.pending_bytes), (2, 3));
        assert_eq!((st.writes, st.write_failures), (0, 1));
        let Some(WriteCommand::Append { id, update }) = s.next_command(concat) else {
            panic!()
        };
        assert_eq!(
            update,
            vec![1, 2, 2],
            "retried in order with what came since"
        );
        assert_eq!(
            s.stats().pending_bytes,
            3,
            "in flight still counts as pending"
        );
        assert_eq!(s.write_failed(id), 1000);
        let Some(WriteCommand::Append { id, .. }) = s.next_command(concat) else {
            panic!()
        };
        s.write_done(id, false, 1, 2);
        assert!(s.persisted(m));
        assert_eq!(s.failures(), 0);
        let st = s.stats();
        assert_eq!((st.pending_updates, st.pending_bytes), (0, 0));
        assert_eq!(
            (st.writes, st.write_failures, st.rows, st.bytes),
            (1, 2, 1, 2)
        );
        // A late answer for an old transaction changes nothing.
        s.write_done(id, false, 1, 2);
        assert_eq!(s.stored(), (1, 2));
    }

    #[test]
    fn compacts_past_the_row_threshold() {
        let mut s = WritePlanner::new(StoreConfig {
            compact_rows: 3,
            ..StoreConfig::default()
        });
        s.loaded(2, 30);
        s.push(vec![1]);
        let Some(WriteCommand::Append { id, .. }) = s.next_command(concat) else {
            panic!()
        };
        // Another tab appended meanwhile: the transaction counted 4 rows.
        s.write_done(id, false, 4, 10);
        let Some(WriteCommand::Compact { id }) = s.next_command(concat) else {
            panic!("4 rows > 3: compaction")
        };
        s.write_done(id, true, 1, 25);
        assert_eq!(s.stored(), (1, 25));
        assert_eq!((s.stats().writes, s.stats().compactions), (2, 1));
        assert_eq!(s.next_command(concat), None);
    }

    #[test]
    fn compacts_on_size_but_not_over_and_over() {
        let mut s = WritePlanner::new(StoreConfig {
            compact_bytes: 100,
            ..StoreConfig::default()
        });
        s.loaded(2, 150);
        let Some(WriteCommand::Compact { id }) = s.next_command(concat) else {
            panic!()
        };
        // The document itself is large: 120 bytes after compaction.
        s.write_done(id, true, 1, 120);
        assert_eq!(
            s.next_command(concat),
            None,
            "not twice the compacted size yet"
        );
        s.push(vec![0; 130]);
        let Some(WriteCommand::Append { id, .. }) = s.next_command(concat) else {
            panic!()
        };
        s.write_done(id, false, 2, 130);
        assert!(matches!(
            s.next_command(concat),
            Some(WriteCommand::Compact { .. })
        ));
    }
}
