//! The journal's raft log on redb: durable before acknowledged, group-committed.
//!
//! One redb file, `<meta_dir>/journal/journal.redb`, two tables:
//! - `log`: log index -> the entry, sealed: `TJC1`, CRC32 (little-endian) of the JSON, JSON;
//! - `state`: `vote`, `committed`, `last_purged` -> the value, sealed the same way.
//!
//! Values written before values were sealed are bare JSON and still read (unchecked). Every
//! value is checked when it is read, and all of them when the file is opened
//! ([`LogStore::open`]): a damaged journal refuses the start instead of replaying wrong
//! metadata. A torn last write cannot leave a half-written entry: a redb commit is atomic
//! (its commit slot carries a checksum; an interrupted commit is rolled back when the file is
//! opened), and an append is acknowledged to raft only after its commit returned, so what a
//! rollback drops was never acknowledged (the leader sends it again).
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
use redb::TableHandle;
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

/// The start of a sealed value.
const SEAL: &[u8; 4] = b"TJC1";

/// Seals a JSON value: magic, CRC32 of the JSON, the JSON.
fn seal(json: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(SEAL);
    out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
    out.extend_from_slice(&json);
    out
}

/// The JSON of a stored value, its checksum checked (a bare JSON value predates sealing).
fn unseal<'a>(bytes: &'a [u8], what: &dyn Fn() -> String) -> io::Result<&'a [u8]> {
    let Some(rest) = bytes.strip_prefix(SEAL.as_slice()) else {
        return Ok(bytes);
    };
    if rest.len() < 4 {
        return Err(corrupt(&what(), "the value is cut short"));
    }
    let (crc, json) = rest.split_at(4);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let got = crc32fast::hash(json);
    if got != want {
        return Err(corrupt(
            &what(),
            format!(
                "checksum mismatch (CRC32 {got:08x}, {want:08x} was stored with it): the bytes \
                 on disk changed"
            ),
        ));
    }
    Ok(json)
}

/// Decodes a stored value (checksum, then JSON).
fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &dyn Fn() -> String,
) -> io::Result<T> {
    let json = unseal(bytes, what)?;
    serde_json::from_slice(json).map_err(|e| corrupt(&what(), e))
}

fn entry_what(index: u64) -> impl Fn() -> String {
    move || format!("journal entry {index} is corrupt")
}

/// Runs `f`, turning a panic (redb on a damaged file) into an error.
fn no_panic<T>(what: &str, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(corrupt(
                what,
                format!("the file is damaged (reading it failed: {msg})"),
            ))
        }
    }
}

/// Reads every value of the file, checking each one's checksum and decoding it, and checks
/// that the entries are contiguous and follow the last purged one. Returns how many entries
/// there are.
fn verify(db: &Database) -> io::Result<u64> {
    let txn = db
        .begin_read()
        .map_err(|e| io_err("begin journal read", e))?;
    // A new file has no tables yet.
    let exists = |name: &str| -> io::Result<bool> {
        Ok(txn
            .list_tables()
            .map_err(|e| corrupt("list journal tables", e))?
            .any(|t| t.name() == name))
    };
    let mut last_purged: Option<LogId> = None;
    if exists(STATE.name())? {
        last_purged = LogStore::read_state(db, KEY_LAST_PURGED)?;
        let _: Option<Vote> = LogStore::read_state(db, KEY_VOTE)?;
        let _: Option<Option<LogId>> = LogStore::read_state(db, KEY_COMMITTED)?;
    }
    if !exists(LOG.name())? {
        return Ok(0);
    }
    let table = txn
        .open_table(LOG)
        .map_err(|e| io_err("open log table", e))?;
    let mut expect = last_purged.map(|l| l.index() + 1);
    let mut n = 0u64;
    for item in table.iter().map_err(|e| io_err("read journal", e))? {
        let (k, v) = item.map_err(|e| corrupt("read journal", e))?;
        let index = k.value();
        let entry: Entry = decode(v.value(), &entry_what(index))?;
        if entry.index() != index {
            return Err(corrupt(
                &entry_what(index)(),
                format!("it says it is entry {}", entry.index()),
            ));
        }
        if let Some(want) = expect
            && index != want
        {
            return Err(corrupt(
                "journal",
                format!("entry {want} is missing (the next one stored is {index})"),
            ));
        }
        expect = Some(index + 1);
        n += 1;
    }
    Ok(n)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LogStore {
    /// Opens (or creates) the journal file and starts its writer thread.
    ///
    /// Every stored value is read and checked first ([`verify`]); redb panicking on a damaged
    /// file is an error too.
    pub fn open(path: &Path) -> io::Result<LogStore> {
        let what = format!("open journal {}", path.display());
        let db = no_panic(&what, || {
            let db = Database::create(path).map_err(|e| io_err(&what, e))?;
            let n = verify(&db)?;
            tracing::debug!(entries = n, "journal checked");
            Ok(db)
        })?;
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
            Some(v) => decode(v.value(), &|| format!("journal state '{key}' is corrupt")).map(Some),
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
                    let bytes = seal(
                        serde_json::to_vec(upto).map_err(|e| io_err("encode journal state", e))?,
                    );
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
                    let entry: Entry = decode(v.value(), &entry_what(k.value()))?;
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
                        let entry: Entry = decode(v.value(), &entry_what(k.value()))?;
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
        let bytes = seal(serde_json::to_vec(vote).map_err(|e| io_err("encode vote", e))?);
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
        let bytes =
            seal(serde_json::to_vec(&committed).map_err(|e| io_err("encode committed", e))?);
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
                seal(serde_json::to_vec(&entry).map_err(|e| io_err("encode journal entry", e))?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal_op::JournalOp;

    fn entry(index: u64) -> Entry {
        Entry::new_normal(
            openraft::testing::log_id::<TypeConfig>(1, 1, index),
            JournalOp::CreateDatabase {
                name: format!("marker_db_{index:04}"),
                if_not_exists: false,
                create_time_ms: 0,
            },
        )
    }

    /// Writes entries 1..=n as the writer thread does (sealed unless `bare`).
    fn write(path: &Path, n: u64, bare: bool) {
        let db = Database::create(path).expect("create");
        let txn = db.begin_write().expect("txn");
        {
            let mut log = txn.open_table(LOG).expect("log");
            txn.open_table(STATE).expect("state");
            for i in 1..=n {
                let json = serde_json::to_vec(&entry(i)).expect("json");
                let bytes = if bare { json } else { seal(json) };
                log.insert(i, bytes.as_slice()).expect("insert");
            }
        }
        txn.commit().expect("commit");
    }

    /// Every entry, decoded (checked) from a store that opened.
    fn read_all(path: &Path) -> Vec<Entry> {
        let db = Database::create(path).expect("open");
        let txn = db.begin_read().expect("read");
        let table = txn.open_table(LOG).expect("log");
        table
            .iter()
            .expect("iter")
            .map(|item| {
                let (k, v) = item.expect("item");
                decode(v.value(), &entry_what(k.value())).expect("decode")
            })
            .collect()
    }

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
        }
    }

    fn marker_positions(bytes: &[u8]) -> Vec<usize> {
        bytes
            .windows(10)
            .enumerate()
            .filter(|(_, w)| *w == b"marker_db_")
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn a_flipped_byte_in_an_entry_refuses_the_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.redb");
        write(&path, 50, false);
        drop(LogStore::open(&path).expect("intact"));
        let good = std::fs::read(&path).expect("read");
        // A digit of entry 25's database name: the JSON still decodes, to another name.
        let at = marker_positions(&good)
            .into_iter()
            .find(|&i| &good[i + 10..i + 14] == b"0025")
            .expect("entry 25")
            + 13;
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).expect("write");
        let err = LogStore::open(&path).expect_err("damaged");
        let msg = err.to_string();
        assert!(msg.contains("journal entry 25 is corrupt"), "{msg}");
        assert!(msg.contains("checksum mismatch"), "{msg}");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn without_the_checksum_the_same_flip_would_be_replayed() {
        // Why entries are sealed: the bare (pre-checksum) format decodes the flipped entry.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.redb");
        write(&path, 50, true);
        drop(LogStore::open(&path).expect("bare entries are still read"));
        let mut bytes = std::fs::read(&path).expect("read");
        let at = marker_positions(&bytes)
            .into_iter()
            .find(|&i| &bytes[i + 10..i + 14] == b"0025")
            .expect("entry 25")
            + 13;
        bytes[at] ^= 0x01;
        std::fs::write(&path, &bytes).expect("write");
        drop(LogStore::open(&path).expect("undetectable without a checksum"));
        let names: Vec<String> = read_all(&path)
            .into_iter()
            .filter_map(|e| match e.payload {
                openraft::EntryPayload::Normal(JournalOp::CreateDatabase { name, .. }) => {
                    Some(name)
                }
                _ => None,
            })
            .collect();
        assert_eq!(names[24], "marker_db_0024", "wrong data, silently");
    }

    #[test]
    fn a_truncated_or_garbage_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.redb");
        write(&path, 50, false);
        drop(LogStore::open(&path).expect("intact"));
        let good = std::fs::read(&path).expect("read");
        for cut in [good.len() / 2, good.len() / 8, 100] {
            std::fs::write(&path, &good[..cut]).expect("write");
            assert!(LogStore::open(&path).is_err(), "cut at {cut}");
        }
        std::fs::write(&path, b"garbage").expect("write");
        assert!(LogStore::open(&path).is_err());
    }

    #[test]
    fn seeded_flips_near_the_entries_never_serve_wrong_entries_or_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.redb");
        write(&path, 200, false);
        let want = read_all(&path);
        let good = std::fs::read(&path).expect("read");
        let hits = marker_positions(&good);
        let lo = hits.iter().min().expect("entries") & !4095;
        let hi = (hits.iter().max().expect("entries") | 4095).min(good.len() - 1);
        let mut rng = Rng(0x5eed_0003);
        let mut refused = 0;
        for _ in 0..60 {
            let mut bad = good.clone();
            let at = lo + rng.below(hi - lo);
            bad[at] ^= 1 << rng.below(8);
            std::fs::write(&path, &bad).expect("write");
            match LogStore::open(&path) {
                Err(_) => refused += 1,
                Ok(store) => {
                    drop(store);
                    assert_eq!(read_all(&path), want, "flip at {at} served wrong entries");
                }
            }
        }
        assert!(refused > 0, "the flips hit the entries");
    }

    #[test]
    fn state_values_are_sealed_and_checked() {
        let json = serde_json::to_vec(&Some(7u64)).expect("json");
        let sealed = seal(json.clone());
        let what = || "journal state 'x' is corrupt".to_string();
        assert_eq!(decode::<Option<u64>>(&sealed, &what).expect("ok"), Some(7));
        assert_eq!(decode::<Option<u64>>(&json, &what).expect("bare"), Some(7));
        let mut bad = sealed.clone();
        let n = bad.len();
        bad[n - 1] ^= 0x02; // 7 -> 5
        assert!(decode::<Option<u64>>(&bad, &what).is_err());
        assert!(decode::<Option<u64>>(&sealed[..6], &what).is_err());
    }
}
