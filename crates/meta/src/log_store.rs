//! The journal's raft log on redb: durable before acknowledged, group-committed.
//!
//! One redb file, `<meta_dir>/journal/journal.redb`, two tables:
//! - `log`: log index -> JSON of the entry;
//! - `state`: `vote`, `committed`, `last_purged` -> JSON.
//!
//! ```text
//!  append(entries, callback) ──► cache (readable at once) ──► writer thread queue ──┐
//!  save_vote / truncate / purge ──────────────────────────► writer thread queue ──┤ (in order)
//!                                                                                 ▼
//!              one redb write transaction for everything queued, one fsync, then every
//!              callback fires (openraft learns the entries are durable only now)
//! ```
//!
//! `append` returns as soon as the entries are queued, so the leader replicates to its
//! followers while its own fsync runs (the two fsyncs of a commit overlap instead of adding
//! up), and appends that arrive while a commit is running share the next fsync. openraft is
//! told an append is flushed only after the redb commit (`Durability::Immediate`) returned, so
//! an acknowledged journal write survives a crash. Entries not yet on disk are served from an
//! in-memory cache. Votes, truncations and purges go through the same queue and are awaited,
//! so the order of writes on disk is the order openraft asked for.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::Bound;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::mpsc;

use openraft::LogState;
use openraft::OptionalSend;
use openraft::RaftLogReader;
use openraft::entry::RaftEntry;
use openraft::storage::IOFlushed;
use openraft::storage::RaftLogStorage;
use redb::Database;
use redb::Durability;
use redb::ReadableDatabase;
use redb::ReadableTable;
use redb::TableDefinition;
use tokio::sync::oneshot;

use crate::types::Entry;
use crate::types::LogId;
use crate::types::TypeConfig;
use crate::types::Vote;

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");

const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
const KEY_LAST_PURGED: &str = "last_purged";

/// Most operations one group commit takes.
const GROUP_MAX: usize = 4096;

/// One queued write.
enum WriteOp {
    /// Entries (index, log id, JSON) and the callback to fire once they are durable.
    Append {
        entries: Vec<(u64, LogId, Vec<u8>)>,
        callback: IOFlushed<TypeConfig>,
    },
    /// Delete entries from `from` on.
    Truncate {
        from: u64,
        done: oneshot::Sender<io::Result<()>>,
    },
    /// Delete entries up to `upto` and remember it as purged.
    Purge {
        upto: LogId,
        done: oneshot::Sender<io::Result<()>>,
    },
    /// Write a state key; `durable` asks for an fsync (votes); `None` rides along.
    State {
        key: &'static str,
        bytes: Vec<u8>,
        durable: bool,
        done: oneshot::Sender<io::Result<()>>,
    },
}

struct Shared {
    db: Database,
    /// Appended entries not known to be on disk yet, by index.
    cache: Mutex<BTreeMap<u64, Entry>>,
    queue: Mutex<Option<mpsc::Sender<WriteOp>>>,
}

/// The redb-backed raft log. Cheap to clone: clones share the database and the writer.
#[derive(Clone)]
pub struct LogStore {
    shared: Arc<Shared>,
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LogStore {
    /// Opens (or creates) the journal file and starts its writer thread.
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
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            db,
            cache: Mutex::new(BTreeMap::new()),
            queue: Mutex::new(Some(tx)),
        });
        let writer = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || run_writer(writer, rx))
            .map_err(|e| io_err("start the journal writer thread", e))?;
        Ok(LogStore { shared })
    }

    fn send(&self, op: WriteOp) -> io::Result<()> {
        let guard = lock(&self.shared.queue);
        let Some(tx) = guard.as_ref() else {
            return Err(io_err("journal writer", "stopped"));
        };
        tx.send(op).map_err(|_| io_err("journal writer", "stopped"))
    }

    async fn send_wait(
        &self,
        make: impl FnOnce(oneshot::Sender<io::Result<()>>) -> WriteOp,
    ) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx))?;
        rx.await
            .map_err(|_| io_err("journal writer", "stopped before finishing a write"))?
    }

    async fn blocking<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> io::Result<T> + Send + 'static,
    {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || f(&shared.db))
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

    /// The last log index stored on disk, for diagnostics.
    pub fn last_index(&self) -> io::Result<Option<u64>> {
        let txn = self
            .shared
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

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the queue lets the writer thread finish what is queued and exit.
        lock(&self.queue).take();
    }
}

/// The writer thread: takes everything queued, applies it in order in one redb transaction,
/// commits once, then answers every operation.
fn run_writer(shared: std::sync::Weak<Shared>, rx: mpsc::Receiver<WriteOp>) {
    while let Ok(first) = rx.recv() {
        let mut ops = vec![first];
        while ops.len() < GROUP_MAX {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        let Some(shared) = shared.upgrade() else {
            fail_all(ops, "the journal was closed");
            return;
        };
        let result = write_group(&shared.db, &ops);
        match result {
            Ok(()) => {
                let mut flushed: Vec<(u64, LogId)> = Vec::new();
                for op in ops {
                    match op {
                        WriteOp::Append { entries, callback } => {
                            flushed.extend(entries.iter().map(|(i, id, _)| (*i, *id)));
                            callback.io_completed(Ok(()));
                        }
                        WriteOp::Truncate { done, .. }
                        | WriteOp::Purge { done, .. }
                        | WriteOp::State { done, .. } => {
                            let _ = done.send(Ok(()));
                        }
                    }
                }
                // On disk now: readers find them in redb. Keep a newer entry that took the
                // same index after a truncation.
                let mut cache = lock(&shared.cache);
                for (index, id) in flushed {
                    if cache.get(&index).is_some_and(|e| e.log_id() == id) {
                        cache.remove(&index);
                    }
                }
            }
            Err(e) => {
                tracing::error!(%e, "journal write failed");
                fail_all(ops, &e.to_string());
            }
        }
    }
}

fn fail_all(ops: Vec<WriteOp>, why: &str) {
    for op in ops {
        let err = || io::Error::other(format!("journal write failed: {why}"));
        match op {
            WriteOp::Append { callback, .. } => callback.io_completed(Err(err())),
            WriteOp::Truncate { done, .. }
            | WriteOp::Purge { done, .. }
            | WriteOp::State { done, .. } => {
                let _ = done.send(Err(err()));
            }
        }
    }
}

fn write_group(db: &Database, ops: &[WriteOp]) -> io::Result<()> {
    let durable = ops
        .iter()
        .any(|op| !matches!(op, WriteOp::State { durable: false, .. }));
    let mut txn = db
        .begin_write()
        .map_err(|e| io_err("begin journal write", e))?;
    if !durable {
        // Only the committed index changed: it rides along with the next durable commit.
        txn.set_durability(Durability::None)
            .map_err(|e| io_err("set journal durability", e))?;
    }
    {
        let mut log = txn
            .open_table(LOG)
            .map_err(|e| io_err("open log table", e))?;
        let mut state = txn
            .open_table(STATE)
            .map_err(|e| io_err("open state table", e))?;
        for op in ops {
            match op {
                WriteOp::Append { entries, .. } => {
                    for (index, _, bytes) in entries {
                        log.insert(*index, bytes.as_slice())
                            .map_err(|e| io_err("append journal entry", e))?;
                    }
                }
                WriteOp::Truncate { from, .. } => {
                    log.retain_in(*from.., |_, _| false)
                        .map_err(|e| io_err("truncate journal", e))?;
                }
                WriteOp::Purge { upto, .. } => {
                    let bytes =
                        serde_json::to_vec(upto).map_err(|e| io_err("encode journal state", e))?;
                    state
                        .insert(KEY_LAST_PURGED, bytes.as_slice())
                        .map_err(|e| io_err("write journal state", e))?;
                    log.retain_in(..=upto.index(), |_, _| false)
                        .map_err(|e| io_err("purge journal", e))?;
                }
                WriteOp::State { key, bytes, .. } => {
                    state
                        .insert(*key, bytes.as_slice())
                        .map_err(|e| io_err("write journal state", e))?;
                }
            }
        }
    }
    txn.commit().map_err(|e| io_err("commit journal write", e))
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
        // Entries still in the cache are newer than anything on disk at their index.
        let cached: BTreeMap<u64, Entry> = {
            let cache = lock(&self.shared.cache);
            let iter = match end {
                Some(e) => cache.range(start..=e),
                None => cache.range(start..),
            };
            iter.map(|(k, v)| (*k, v.clone())).collect()
        };
        let mut out: BTreeMap<u64, Entry> = self
            .blocking(move |db| {
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
                let mut out = BTreeMap::new();
                for item in iter {
                    let (k, v) = item.map_err(|e| io_err("read journal", e))?;
                    let entry: Entry = serde_json::from_slice(v.value()).map_err(|e| {
                        corrupt(&format!("journal entry {} is corrupt", k.value()), e)
                    })?;
                    out.insert(k.value(), entry);
                }
                Ok(out)
            })
            .await?;
        out.extend(cached);
        Ok(out.into_values().collect())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        self.blocking(|db| Self::read_state(db, KEY_VOTE)).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let cached_last = lock(&self.shared.cache)
            .last_key_value()
            .map(|(_, e)| e.log_id());
        let on_disk = self
            .blocking(|db| {
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
                Ok((last_purged, last))
            })
            .await?;
        let (last_purged, last) = on_disk;
        let last = match (last, cached_last) {
            (Some(d), Some(c)) => Some(if c.index() >= d.index() { c } else { d }),
            (d, c) => d.or(c),
        };
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let bytes = serde_json::to_vec(vote).map_err(|e| io_err("encode vote", e))?;
        self.send_wait(|done| WriteOp::State {
            key: KEY_VOTE,
            bytes,
            durable: true,
            done,
        })
        .await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // The committed index is a lower bound openraft re-learns from the leader: it rides
        // along with the next durable commit instead of paying an fsync of its own.
        let bytes = serde_json::to_vec(&committed).map_err(|e| io_err("encode committed", e))?;
        self.send_wait(|done| WriteOp::State {
            key: KEY_COMMITTED,
            bytes,
            durable: false,
            done,
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
        let mut cached = Vec::new();
        for entry in entries {
            let bytes =
                serde_json::to_vec(&entry).map_err(|e| io_err("encode journal entry", e))?;
            encoded.push((entry.index(), entry.log_id(), bytes));
            cached.push(entry);
        }
        {
            let mut cache = lock(&self.shared.cache);
            for e in cached {
                cache.insert(e.index(), e);
            }
        }
        // Returns once queued; the callback fires after the group commit's fsync.
        self.send(WriteOp::Append {
            entries: encoded,
            callback,
        })
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map(|id| id.index() + 1).unwrap_or(0);
        self.send_wait(|done| WriteOp::Truncate { from, done })
            .await?;
        // Only now that the disk agrees: drop the cached entries too.
        let mut cache = lock(&self.shared.cache);
        let stale: Vec<u64> = cache.range(from..).map(|(k, _)| *k).collect();
        for k in stale {
            cache.remove(&k);
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let upto = log_id.index();
        self.send_wait(|done| WriteOp::Purge { upto: log_id, done })
            .await?;
        let mut cache = lock(&self.shared.cache);
        let old: Vec<u64> = cache.range(..=upto).map(|(k, _)| *k).collect();
        for k in old {
            cache.remove(&k);
        }
        Ok(())
    }
}
