//! One storage root: its lock, its cluster id file and its tablet metadata store.

use std::fs;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::PoisonError;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;

use common::Error;
use common::Result;
use common::StatusCode;
use redb::Database;
use redb::ReadableDatabase;
use redb::ReadableTable;
use redb::TableDefinition;

use crate::disk::FloodStage;
use crate::disk::disk_full;
use crate::disk::is_disk_full;
use crate::disk::write_error;
use crate::meta::TabletMeta;

/// tablet id -> JSON of [`TabletMeta`].
const TABLETS: TableDefinition<i64, &[u8]> = TableDefinition::new("tablets");

/// Name of the file that holds the cluster id in every root.
pub(crate) const CLUSTER_ID_FILE: &str = "cluster_id";
/// The file in each root that holds the cluster token (next to `cluster_id`).
pub(crate) const TOKEN_FILE: &str = "cluster_token";

/// How many shard directories tablets are spread over under `data/`.
const SHARDS: i64 = 1024;

/// The directory of tablet `tablet_id` under storage root `root`.
pub fn tablet_dir_in(root: &Path, tablet_id: i64) -> PathBuf {
    root.join("data")
        .join(tablet_id.rem_euclid(SHARDS).to_string())
        .join(tablet_id.to_string())
}

/// The storage root a tablet directory ([`tablet_dir_in`]) is in.
pub(crate) fn root_of_tablet_dir(dir: &Path) -> &Path {
    dir.ancestors().nth(3).unwrap_or(dir)
}

/// The metadata store of a root: open, or failed by an I/O error (redb then refuses every
/// operation until the database is opened again).
enum Store {
    Open(Database),
    Failed(Error),
}

/// An open storage root.
pub(crate) struct StorageRoot {
    pub path: PathBuf,
    db_path: PathBuf,
    /// Only touched under the engine's lock; a mutex so a failed store can be replaced.
    db: Mutex<Store>,
    /// Set when `db` is [`Store::Failed`]: [`StorageRoot::reopen`] is due.
    failed: AtomicBool,
    // Held for as long as the root is open.
    _lock: File,
}

/// What a redb error means for the store: whether redb latched it (every later operation
/// fails until the database is opened again).
fn latched(e: &redb::Error) -> bool {
    matches!(
        e,
        redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed
    )
}

/// Opens (creating or repairing) a root's metadata store.
fn open_store(root: &Path, db_path: &Path) -> Result<Database> {
    let db = Database::create(db_path).map_err(|e| match redb::Error::from(e) {
        redb::Error::Io(io) if is_disk_full(&io) => disk_full(
            root,
            format!(
                "cannot open the tablet metadata store {}: {io}",
                db_path.display()
            ),
        ),
        redb::Error::Io(io) => Error::io(
            format!(
                "cannot open the tablet metadata store {}",
                db_path.display()
            ),
            io,
        ),
        e => Error::new(
            StatusCode::MetaCorrupted,
            format!(
                "cannot open the tablet metadata store {}: {e}. {}",
                db_path.display(),
                STORE_DAMAGED_HINT
            ),
        ),
    })?;
    let init = || -> std::result::Result<(), redb::Error> {
        let txn = db.begin_write()?;
        txn.open_table(TABLETS)?;
        txn.commit()?;
        Ok(())
    };
    init().map_err(|e| store_error(root, "initialize the tablet metadata store", e))?;
    Ok(db)
}

/// The error of a metadata store operation on root `root`.
fn store_error(root: &Path, what: impl std::fmt::Display, e: redb::Error) -> Error {
    match e {
        redb::Error::Io(io) => write_error(root, format!("tablet metadata store: {what}"), io),
        e => Error::new(
            StatusCode::Io,
            format!("tablet metadata store of {}: {what}: {e}", root.display()),
        ),
    }
}

/// One record as read from the store: decoded, or the raw key and why it did not decode.
/// What to do about a tablet metadata store that cannot be read at all.
const STORE_DAMAGED_HINT: &str = "The backend refuses to start. Move that file away (keep it \
     for analysis) and start the backend again: the tablets of this storage root are then \
     unknown here, the frontend finds their replicas missing and clones them again from healthy \
     replicas";

/// Runs `f`, turning a panic of redb on a damaged store into an error that says what to do.
fn no_panic<T>(db_path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::new(
                StatusCode::MetaCorrupted,
                format!(
                    "the tablet metadata store {} is damaged (reading it failed: {msg}). {}",
                    db_path.display(),
                    STORE_DAMAGED_HINT
                ),
            ))
        }
    }
}

pub(crate) type Record = std::result::Result<TabletMeta, (i64, String)>;

impl StorageRoot {
    /// Creates the root's directories if needed, locks it and opens its metadata store.
    pub fn open(path: &Path) -> Result<StorageRoot> {
        for dir in [path.to_path_buf(), path.join("meta"), path.join("data")] {
            fs::create_dir_all(&dir).map_err(|e| {
                write_error(
                    path,
                    format!("create storage root directory {}", dir.display()),
                    e,
                )
            })?;
        }
        let lock_path = path.join("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| write_error(path, format!("open {}", lock_path.display()), e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::invalid(format!(
                    "storage root {} is in use by another backend process (it holds {}); each \
                     backend needs storage_root_path directories of its own",
                    path.display(),
                    lock_path.display()
                )));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("lock {}", lock_path.display()), e));
            }
        }
        let db_path = path.join("meta").join("tablet_meta.redb");
        let db = no_panic(&db_path, || open_store(path, &db_path))?;
        Ok(StorageRoot {
            path: path.to_path_buf(),
            db_path,
            db: Mutex::new(Store::Open(db)),
            failed: AtomicBool::new(false),
            _lock: lock,
        })
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the metadata store. An error redb latches (I/O) marks the store failed:
    /// later calls fail at once until [`StorageRoot::reopen`] opens it again.
    fn with_store<T>(
        &self,
        what: impl std::fmt::Display,
        f: impl FnOnce(&Database) -> std::result::Result<T, redb::Error>,
    ) -> Result<T> {
        let mut store = self.store();
        let db = match &*store {
            Store::Open(db) => db,
            Store::Failed(e) => {
                return Err(Error::new(
                    e.code,
                    format!(
                        "{what}: the tablet metadata store of {} failed earlier and is opened \
                         again before the next write ({})",
                        self.path.display(),
                        e.message
                    ),
                ));
            }
        };
        match f(db) {
            Ok(v) => Ok(v),
            Err(e) => {
                let fatal = latched(&e);
                let err = store_error(&self.path, &what, e);
                if fatal {
                    tracing::error!(
                        root = %self.path.display(),
                        "the tablet metadata store failed; it is opened again before the next \
                         write: {err}"
                    );
                    // Dropping the database releases its file, so it can be opened again.
                    *store = Store::Failed(err.clone());
                    self.failed.store(true, Ordering::SeqCst);
                }
                Err(err)
            }
        }
    }

    /// Test support: fails the metadata store as an I/O error would.
    #[cfg(test)]
    pub fn fail_for_test(&self) {
        *self.store() = Store::Failed(Error::new(StatusCode::Io, "a simulated I/O error"));
        self.failed.store(true, Ordering::SeqCst);
    }

    /// Whether the metadata store failed and waits for [`StorageRoot::reopen`].
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Opens a failed metadata store again (redb recovers it to its last commit). Fails, and
    /// stays failed, while that is impossible (the disk is still full, ...).
    pub fn reopen(&self) -> Result<()> {
        let mut store = self.store();
        if let Store::Open(_) = &*store {
            self.failed.store(false, Ordering::SeqCst);
            return Ok(());
        }
        match open_store(&self.path, &self.db_path) {
            Ok(db) => {
                *store = Store::Open(db);
                self.failed.store(false, Ordering::SeqCst);
                tracing::info!(
                    root = %self.path.display(),
                    "the tablet metadata store is open again"
                );
                Ok(())
            }
            Err(e) => {
                *store = Store::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// Refuses a write of about `incoming` bytes into this root when it is at its flood stage.
    pub fn check_flood_stage(&self, flood: &FloodStage, incoming: i64) -> Result<()> {
        let (total, available) = self.capacity();
        if flood.reached(total, available, incoming) {
            return Err(flood.refusal(&self.path, total, available, incoming));
        }
        Ok(())
    }

    /// The cluster id stored in this root, if any.
    pub fn read_cluster_id(&self) -> Result<Option<i32>> {
        let file = self.path.join(CLUSTER_ID_FILE);
        let text = match fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("read {}", file.display()), e)),
        };
        match text.trim().parse::<i32>() {
            Ok(id) if id > 0 => Ok(Some(id)),
            _ => Err(Error::new(
                StatusCode::MetaCorrupted,
                format!(
                    "{} holds '{}', which is not a cluster id; restore it or remove it so the \
                     backend joins the cluster that heartbeats it first",
                    file.display(),
                    text.trim()
                ),
            )),
        }
    }

    /// Stores the cluster id atomically (write a temporary file, fsync, rename, fsync the
    /// directory).
    pub fn write_cluster_id(&self, id: i32) -> Result<()> {
        let file = self.path.join(CLUSTER_ID_FILE);
        let tmp = self.path.join(format!("{CLUSTER_ID_FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(format!("{id}\n").as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &file)?;
            File::open(&self.path)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            write_error(&self.path, format!("write {}", file.display()), e)
        })
    }

    /// The cluster token stored in this root, if any.
    pub fn read_token(&self) -> Result<Option<String>> {
        let file = self.path.join(TOKEN_FILE);
        let text = match fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("read {}", file.display()), e)),
        };
        let token = text.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::new(
                StatusCode::MetaCorrupted,
                format!(
                    "{} does not hold a cluster token; restore it from another storage root of \
                     this backend (or remove it: the next heartbeat of the cluster stores it \
                     again)",
                    file.display()
                ),
            ));
        }
        Ok(Some(token.to_string()))
    }

    /// Stores the cluster token atomically, readable by its owner only.
    pub fn write_token(&self, token: &str) -> Result<()> {
        let file = self.path.join(TOKEN_FILE);
        let tmp = self.path.join(format!("{TOKEN_FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(fs::Permissions::from_mode(0o600))?;
            }
            f.write_all(format!("{token}\n").as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &file)?;
            File::open(&self.path)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            write_error(&self.path, format!("write {}", file.display()), e)
        })
    }

    /// Every record in the store.
    pub fn load(&self) -> Result<Vec<Record>> {
        let raw = no_panic(&self.db_path, || {
            self.with_store("read the tablet records", |db| {
                let txn = db.begin_read()?;
                let table = txn.open_table(TABLETS)?;
                let mut out = Vec::new();
                for item in table.iter()? {
                    let (k, v) = item?;
                    out.push((k.value(), v.value().to_vec()));
                }
                Ok(out)
            })
        })?;
        Ok(raw
            .into_iter()
            .map(|(key, bytes)| TabletMeta::decode_record(key, &bytes).map_err(|e| (key, e)))
            .collect())
    }

    /// Commits one tablet's metadata (durably).
    pub fn put(&self, meta: &TabletMeta) -> Result<()> {
        let bytes = meta.encode_record().map_err(Error::internal)?;
        self.put_raw(meta.tablet_id, &bytes)
    }

    /// Commits raw bytes under a key (tests use it to plant damaged records).
    pub fn put_raw(&self, tablet_id: i64, bytes: &[u8]) -> Result<()> {
        self.with_store(format!("commit the metadata of tablet {tablet_id}"), |db| {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(TABLETS)?;
                table.insert(tablet_id, bytes)?;
            }
            txn.commit()?;
            Ok(())
        })
    }

    /// Deletes one tablet's metadata (durably); whether it was there.
    pub fn delete(&self, tablet_id: i64) -> Result<bool> {
        self.with_store(format!("delete the metadata of tablet {tablet_id}"), |db| {
            let txn = db.begin_write()?;
            let existed = {
                let mut table = txn.open_table(TABLETS)?;
                table.remove(tablet_id)?.is_some()
            };
            txn.commit()?;
            Ok(existed)
        })
    }

    /// The directory of a tablet in this root.
    pub fn tablet_dir(&self, tablet_id: i64) -> PathBuf {
        tablet_dir_in(&self.path, tablet_id)
    }

    /// (total, available) bytes of the file system holding the root; zeros when unknown.
    pub fn capacity(&self) -> (i64, i64) {
        match rustix::fs::statvfs(&self.path) {
            Ok(s) => {
                let unit = if s.f_frsize > 0 {
                    s.f_frsize
                } else {
                    s.f_bsize
                };
                let total = s.f_blocks.saturating_mul(unit);
                let avail = s.f_bavail.saturating_mul(unit);
                (
                    i64::try_from(total).unwrap_or(i64::MAX),
                    i64::try_from(avail).unwrap_or(i64::MAX),
                )
            }
            Err(e) => {
                tracing::warn!(root = %self.path.display(), %e, "statvfs failed");
                (0, 0)
            }
        }
    }
}

/// Bytes of the regular files under `dir` (0 when it does not exist).
pub(crate) fn dir_bytes(dir: &Path) -> i64 {
    let mut total: u64 = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else {
                continue;
            };
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                total = total.saturating_add(entry.metadata().map(|m| m.len()).unwrap_or(0));
            }
        }
    }
    i64::try_from(total).unwrap_or(i64::MAX)
}
