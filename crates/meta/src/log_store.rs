//! The journal's raft log on redb: durable before acknowledged.
//!
//! One redb file, `<meta_dir>/journal/journal.redb`, two tables:
//! - `log`: log index -> JSON of the entry;
//! - `state`: `vote`, `committed`, `last_purged` -> JSON.
//!
//! Every write is one redb write transaction committed with `Durability::Immediate` (fsync)
//! before openraft is told the I/O finished, so an acknowledged journal write survives a
//! crash. redb is synchronous: the work runs on tokio's blocking pool, never on the threads
//! that drive raft heartbeats.

use std::fmt::Debug;
use std::io;
use std::ops::Bound;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;

use openraft::LogState;
use openraft::OptionalSend;
use openraft::RaftLogReader;
use openraft::entry::RaftEntry;
use openraft::storage::IOFlushed;
use openraft::storage::RaftLogStorage;
use redb::Database;
use redb::ReadableDatabase;
use redb::ReadableTable;
use redb::TableDefinition;

use crate::types::Entry;
use crate::types::LogId;
use crate::types::TypeConfig;
use crate::types::Vote;

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");

const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
const KEY_LAST_PURGED: &str = "last_purged";

/// The redb-backed raft log. Cheap to clone: clones share the database.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

impl Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogStore")
    }
}

fn io_err(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"))
}

impl LogStore {
    /// Opens (or creates) the journal file.
    pub fn open(path: &Path) -> io::Result<LogStore> {
        let db = Database::create(path)
            .map_err(|e| io_err(&format!("open journal {}", path.display()), e))?;
        let txn = db
            .begin_write()
            .map_err(|e| io_err("begin journal write", e))?;
        {
            txn.open_table(LOG)
                .map_err(|e| io_err("open log table", e))?;
            txn.open_table(STATE)
                .map_err(|e| io_err("open state table", e))?;
        }
        txn.commit().map_err(|e| io_err("commit journal init", e))?;
        Ok(LogStore { db: Arc::new(db) })
    }

    async fn blocking<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> io::Result<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| io_err("journal I/O task", e))?
    }

    fn read_state<T: serde::de::DeserializeOwned>(
        db: &Database,
        key: &str,
    ) -> io::Result<Option<T>> {
        let txn = db
            .begin_read()
            .map_err(|e| io_err("begin journal read", e))?;
        let table = txn
            .open_table(STATE)
            .map_err(|e| io_err("open state table", e))?;
        match table
            .get(key)
            .map_err(|e| io_err("read journal state", e))?
        {
            Some(v) => serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|e| corrupt(&format!("journal state '{key}' is corrupt"), e)),
            None => Ok(None),
        }
    }

    fn write_state<T: serde::Serialize>(db: &Database, key: &str, value: &T) -> io::Result<()> {
        Self::write_state_with(db, key, value, redb::Durability::Immediate)
    }

    fn write_state_with<T: serde::Serialize>(
        db: &Database,
        key: &str,
        value: &T,
        durability: redb::Durability,
    ) -> io::Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| io_err("encode journal state", e))?;
        let mut txn = db
            .begin_write()
            .map_err(|e| io_err("begin journal write", e))?;
        txn.set_durability(durability)
            .map_err(|e| io_err("set journal durability", e))?;
        {
            let mut table = txn
                .open_table(STATE)
                .map_err(|e| io_err("open state table", e))?;
            table
                .insert(key, bytes.as_slice())
                .map_err(|e| io_err("write journal state", e))?;
        }
        txn.commit().map_err(|e| io_err("commit journal state", e))
    }

    /// The last log index stored, for diagnostics.
    pub fn last_index(&self) -> io::Result<Option<u64>> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| io_err("begin journal read", e))?;
        let table = txn
            .open_table(LOG)
            .map_err(|e| io_err("open log table", e))?;
        let last = table.last().map_err(|e| io_err("read journal", e))?;
        Ok(last.map(|(k, _)| k.value()))
    }

    /// Checks the file's internal consistency (used on start and by corruption tests).
    pub fn check_integrity(path: &Path) -> io::Result<()> {
        let mut db = Database::create(path).map_err(|e| io_err("open journal", e))?;
        match db.check_integrity() {
            Ok(true) => Ok(()),
            Ok(false) => Err(corrupt("journal", "integrity check repaired the file")),
            Err(e) => Err(corrupt("journal", e)),
        }
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(x) => Some(*x),
            Bound::Excluded(x) => {
                if *x == 0 {
                    return Ok(Vec::new());
                }
                Some(*x - 1)
            }
            Bound::Unbounded => None,
        };
        if end.is_some_and(|e| e < start) {
            return Ok(Vec::new());
        }
        self.blocking(move |db| {
            let txn = db
                .begin_read()
                .map_err(|e| io_err("begin journal read", e))?;
            let table = txn
                .open_table(LOG)
                .map_err(|e| io_err("open log table", e))?;
            let iter = match end {
                Some(e) => table.range(start..=e),
                None => table.range(start..),
            }
            .map_err(|e| io_err("read journal", e))?;
            let mut out = Vec::new();
            for item in iter {
                let (k, v) = item.map_err(|e| io_err("read journal", e))?;
                let entry: Entry = serde_json::from_slice(v.value())
                    .map_err(|e| corrupt(&format!("journal entry {} is corrupt", k.value()), e))?;
                out.push(entry);
            }
            Ok(out)
        })
        .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        self.blocking(|db| Self::read_state(db, KEY_VOTE)).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        self.blocking(|db| {
            let last_purged: Option<LogId> = Self::read_state(db, KEY_LAST_PURGED)?;
            let txn = db
                .begin_read()
                .map_err(|e| io_err("begin journal read", e))?;
            let table = txn
                .open_table(LOG)
                .map_err(|e| io_err("open log table", e))?;
            let last = match table.last().map_err(|e| io_err("read journal", e))? {
                Some((k, v)) => {
                    let entry: Entry = serde_json::from_slice(v.value()).map_err(|e| {
                        corrupt(&format!("journal entry {} is corrupt", k.value()), e)
                    })?;
                    Some(entry.log_id())
                }
                None => last_purged,
            };
            Ok(LogState {
                last_purged_log_id: last_purged,
                last_log_id: last,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let vote = *vote;
        self.blocking(move |db| Self::write_state(db, KEY_VOTE, &vote))
            .await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // The committed index is only a lower bound openraft can re-learn from the leader: it
        // rides along with the next durable commit (an append or a vote) instead of paying an
        // fsync of its own on every commit.
        self.blocking(move |db| {
            Self::write_state_with(db, KEY_COMMITTED, &committed, redb::Durability::None)
        })
        .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        self.blocking(|db| Ok(Self::read_state::<Option<LogId>>(db, KEY_COMMITTED)?.flatten()))
            .await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut encoded = Vec::new();
        for entry in entries {
            let bytes =
                serde_json::to_vec(&entry).map_err(|e| io_err("encode journal entry", e))?;
            encoded.push((entry.index(), bytes));
        }
        let result = self
            .blocking(move |db| {
                let txn = db
                    .begin_write()
                    .map_err(|e| io_err("begin journal write", e))?;
                {
                    let mut table = txn
                        .open_table(LOG)
                        .map_err(|e| io_err("open log table", e))?;
                    for (index, bytes) in &encoded {
                        table
                            .insert(*index, bytes.as_slice())
                            .map_err(|e| io_err("append journal entry", e))?;
                    }
                }
                txn.commit().map_err(|e| io_err("commit journal append", e))
            })
            .await;
        // The callback fires only after the commit (and its fsync) returned.
        match result {
            Ok(()) => {
                callback.io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map(|id| id.index() + 1).unwrap_or(0);
        self.blocking(move |db| {
            let txn = db
                .begin_write()
                .map_err(|e| io_err("begin journal write", e))?;
            {
                let mut table = txn
                    .open_table(LOG)
                    .map_err(|e| io_err("open log table", e))?;
                table
                    .retain_in(from.., |_, _| false)
                    .map_err(|e| io_err("truncate journal", e))?;
            }
            txn.commit()
                .map_err(|e| io_err("commit journal truncate", e))
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        self.blocking(move |db| {
            let bytes =
                serde_json::to_vec(&log_id).map_err(|e| io_err("encode journal state", e))?;
            let txn = db
                .begin_write()
                .map_err(|e| io_err("begin journal write", e))?;
            {
                let mut state = txn
                    .open_table(STATE)
                    .map_err(|e| io_err("open state table", e))?;
                state
                    .insert(KEY_LAST_PURGED, bytes.as_slice())
                    .map_err(|e| io_err("write journal state", e))?;
                let mut table = txn
                    .open_table(LOG)
                    .map_err(|e| io_err("open log table", e))?;
                table
                    .retain_in(..=log_id.index(), |_, _| false)
                    .map_err(|e| io_err("purge journal", e))?;
            }
            txn.commit().map_err(|e| io_err("commit journal purge", e))
        })
        .await
    }
}
