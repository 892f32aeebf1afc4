//! One storage root: its lock, its cluster id file and its tablet metadata store.

use std::fs;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use common::Error;
use common::Result;
use common::StatusCode;
use redb::Database;
use redb::ReadableDatabase;
use redb::ReadableTable;
use redb::TableDefinition;

use crate::meta::TabletMeta;

/// tablet id -> JSON of [`TabletMeta`].
const TABLETS: TableDefinition<i64, &[u8]> = TableDefinition::new("tablets");

/// Name of the file that holds the cluster id in every root.
pub(crate) const CLUSTER_ID_FILE: &str = "cluster_id";

/// How many shard directories tablets are spread over under `data/`.
const SHARDS: i64 = 1024;

/// The directory of tablet `tablet_id` under storage root `root`.
pub fn tablet_dir_in(root: &Path, tablet_id: i64) -> PathBuf {
    root.join("data")
        .join(tablet_id.rem_euclid(SHARDS).to_string())
        .join(tablet_id.to_string())
}

fn store_err(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::new(StatusCode::Io, format!("{what}: {e}"))
}

/// An open storage root.
pub(crate) struct StorageRoot {
    pub path: PathBuf,
    db: Database,
    // Held for as long as the root is open.
    _lock: File,
}

/// One record as read from the store: decoded, or the raw key and why it did not decode.
pub(crate) type Record = std::result::Result<TabletMeta, (i64, String)>;

impl StorageRoot {
    /// Creates the root's directories if needed, locks it and opens its metadata store.
    pub fn open(path: &Path) -> Result<StorageRoot> {
        for dir in [path.to_path_buf(), path.join("meta"), path.join("data")] {
            fs::create_dir_all(&dir).map_err(|e| {
                Error::io(
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
            .map_err(|e| Error::io(format!("open {}", lock_path.display()), e))?;
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
        let db = Database::create(&db_path).map_err(|e| {
            Error::new(
                StatusCode::MetaCorrupted,
                format!(
                    "cannot open the tablet metadata store {}: {e}",
                    db_path.display()
                ),
            )
        })?;
        let txn = db
            .begin_write()
            .map_err(|e| store_err("begin tablet meta write", e))?;
        txn.open_table(TABLETS)
            .map_err(|e| store_err("open the tablets table", e))?;
        txn.commit()
            .map_err(|e| store_err("commit tablet meta init", e))?;
        Ok(StorageRoot {
            path: path.to_path_buf(),
            db,
            _lock: lock,
        })
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
        write().map_err(|e| Error::io(format!("write {}", file.display()), e))
    }

    /// Every record in the store.
    pub fn load(&self) -> Result<Vec<Record>> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| store_err("begin tablet meta read", e))?;
        let table = txn
            .open_table(TABLETS)
            .map_err(|e| store_err("open the tablets table", e))?;
        let mut out = Vec::new();
        for item in table.iter().map_err(|e| store_err("scan tablet meta", e))? {
            let (k, v) = item.map_err(|e| store_err("read tablet meta", e))?;
            let key = k.value();
            let record = match serde_json::from_slice::<TabletMeta>(v.value()) {
                Ok(m) if m.tablet_id == key => Ok(m),
                Ok(m) => Err((
                    key,
                    format!(
                        "the record under key {key} describes tablet {}",
                        m.tablet_id
                    ),
                )),
                Err(e) => Err((key, format!("undecodable JSON: {e}"))),
            };
            out.push(record);
        }
        Ok(out)
    }

    /// Commits one tablet's metadata (durably).
    pub fn put(&self, meta: &TabletMeta) -> Result<()> {
        let bytes = serde_json::to_vec(meta)
            .map_err(|e| Error::internal(format!("encode tablet meta: {e}")))?;
        self.put_raw(meta.tablet_id, &bytes)
    }

    /// Commits raw bytes under a key (tests use it to plant damaged records).
    pub fn put_raw(&self, tablet_id: i64, bytes: &[u8]) -> Result<()> {
        let txn = self
            .db
            .begin_write()
            .map_err(|e| store_err("begin tablet meta write", e))?;
        {
            let mut table = txn
                .open_table(TABLETS)
                .map_err(|e| store_err("open the tablets table", e))?;
            table
                .insert(tablet_id, bytes)
                .map_err(|e| store_err(format!("write the meta of tablet {tablet_id}"), e))?;
        }
        txn.commit()
            .map_err(|e| store_err(format!("commit the meta of tablet {tablet_id}"), e))
    }

    /// Deletes one tablet's metadata (durably); whether it was there.
    pub fn delete(&self, tablet_id: i64) -> Result<bool> {
        let txn = self
            .db
            .begin_write()
            .map_err(|e| store_err("begin tablet meta write", e))?;
        let existed = {
            let mut table = txn
                .open_table(TABLETS)
                .map_err(|e| store_err("open the tablets table", e))?;
            table
                .remove(tablet_id)
                .map_err(|e| store_err(format!("delete the meta of tablet {tablet_id}"), e))?
                .is_some()
        };
        txn.commit()
            .map_err(|e| store_err(format!("commit deleting tablet {tablet_id}"), e))?;
        Ok(existed)
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
