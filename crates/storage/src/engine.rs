//! The storage engine: every storage root of one backend and the tablets in them.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::PoisonError;
use std::sync::Weak;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use std::time::Instant;

use common::Error;
use common::Result;
use common::StatusCode;
use common::schema::TableSchema;

use crate::disk::FloodStage;
use crate::disk::write_error;
use crate::meta::CorruptRecord;
use crate::meta::TabletMeta;
use crate::meta::TabletState;
use crate::root::CLUSTER_ID_FILE;
use crate::root::StorageRoot;
use crate::root::TOKEN_FILE;
use crate::root::dir_bytes;
use crate::rowset::DATA_EXT;
use crate::rowset::ReadPin;
use crate::rowset::RowsetMeta;
use crate::rowset::RowsetWriter;
use crate::rowset::TMP_EXT;
use crate::rowset::TabletRead;
use crate::rowset::remove_files;
use crate::rowset::verify_file;
use crate::rowset::version_path;
use crate::types::arrow_schema;

/// What the FE asks for when it creates a tablet replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTablet {
    /// The tablet.
    pub tablet_id: i64,
    /// The replica's id.
    pub replica_id: i64,
    /// The table.
    pub table_id: i64,
    /// The partition.
    pub partition_id: i64,
    /// The table's schema.
    pub schema: TableSchema,
    /// The partition's visible version (1 for a new table).
    pub version: i64,
}

/// What a create did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The tablet is new.
    Created,
    /// The same replica already existed (a retried task).
    AlreadyExists,
}

/// A tablet as reports show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TabletStatus {
    /// Its metadata; `state` is derived from the files (MISSING_DATA when the directory is gone).
    pub meta: TabletMeta,
    /// Its directory.
    pub dir: PathBuf,
    /// Bytes of its files.
    pub data_size: i64,
    /// Rows it holds.
    pub row_count: i64,
}

/// Capacity of one storage root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskStat {
    /// The root directory.
    pub root_path: PathBuf,
    /// Size of its file system.
    pub total_bytes: i64,
    /// Bytes still available to this process on that file system.
    pub available_bytes: i64,
    /// Bytes of tablet files under the root.
    pub data_used_bytes: i64,
}

/// Settings of the engine itself (compaction's are per call: [`crate::CompactionPolicy`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageOptions {
    /// A load into a tablet with more visible rowsets than this is refused
    /// (`tablet_max_versions`).
    pub tablet_max_versions: usize,
    /// Loads, clones and compactions into a root at its flood stage are refused
    /// (`storage_flood_stage_usage_percent`, `storage_flood_stage_left_capacity_bytes`).
    pub flood_stage: FloodStage,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            tablet_max_versions: 1000,
            flood_stage: FloodStage::default(),
        }
    }
}

pub(crate) struct Entry {
    pub(crate) meta: TabletMeta,
    pub(crate) root: usize,
    /// Set while a compaction of this tablet runs, or a clone into it (one of them at a time).
    pub(crate) compacting: Arc<AtomicBool>,
    /// The readers' pins ([`TabletRead`]); dead ones are pruned by the sweeper.
    pub(crate) readers: Vec<Weak<ReadPin>>,
}

impl Entry {
    pub(crate) fn new(meta: TabletMeta, root: usize) -> Entry {
        Entry {
            meta,
            root,
            compacting: Arc::default(),
            readers: Vec::new(),
        }
    }
}

impl Inner {
    /// The root with the most available space (the first of equals), where a new tablet goes.
    pub(crate) fn emptiest_root(&self) -> Result<usize> {
        self.roots
            .iter()
            .enumerate()
            .max_by_key(|(i, r)| (r.capacity().1, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
            .ok_or_else(|| Error::internal("no storage root"))
    }

    /// Opens again the metadata stores that an I/O error failed (a full disk, ...) and makes
    /// what they hold agree with the metadata in memory, which is what callers were told: a
    /// commit that failed changed nothing in memory, and must change nothing on disk. A store
    /// that cannot be opened yet stays failed (its writes fail) and is tried again at the next
    /// write. Called at the start of every operation that writes metadata.
    pub(crate) fn heal(&self) {
        for (i, root) in self.roots.iter().enumerate() {
            if !root.failed() {
                continue;
            }
            if let Err(e) = root.reopen() {
                tracing::debug!(root = %root.path.display(), "the tablet metadata store cannot be opened yet: {e}");
                continue;
            }
            if let Err(e) = self.reconcile(i) {
                tracing::warn!(root = %root.path.display(), "cannot check the tablet metadata store after reopening it: {e}");
            }
        }
    }

    /// Rewrites the records of root `i` that differ from the metadata in memory, and removes
    /// the records of tablets that are not (damaged records stay).
    fn reconcile(&self, i: usize) -> Result<()> {
        let root = &self.roots[i];
        let ours = |tablet_id: i64| self.tablets.get(&tablet_id).filter(|e| e.root == i);
        let normal = |m: &TabletMeta| TabletMeta {
            state: TabletState::Normal,
            ..m.clone()
        };
        let mut seen = BTreeSet::new();
        let mut fixed = 0usize;
        for record in root.load()? {
            let (tablet_id, stored) = match record {
                Ok(m) => (m.tablet_id, Some(m)),
                Err((tablet_id, _)) => (tablet_id, None),
            };
            seen.insert(tablet_id);
            match (ours(tablet_id), stored) {
                (Some(entry), Some(stored)) if normal(&stored) == normal(&entry.meta) => {}
                (Some(entry), _) => {
                    root.put(&entry.meta)?;
                    fixed += 1;
                }
                (None, Some(_)) => {
                    let damaged = self
                        .corrupt
                        .iter()
                        .any(|c| c.tablet_id == tablet_id && c.root == root.path);
                    if !damaged {
                        root.delete(tablet_id)?;
                        fixed += 1;
                    }
                }
                (None, None) => {}
            }
        }
        for (tablet_id, entry) in &self.tablets {
            if entry.root == i && !seen.contains(tablet_id) {
                root.put(&entry.meta)?;
                fixed += 1;
            }
        }
        if fixed > 0 {
            tracing::warn!(
                root = %root.path.display(),
                records = fixed,
                "records of the reopened tablet metadata store differed from the tablets in \
                 memory (a commit failed after reaching the disk); they were rewritten"
            );
        }
        Ok(())
    }

    /// Refuses a tablet whose metadata record is damaged (until it is dropped).
    pub(crate) fn refuse_corrupt(&self, tablet_id: i64) -> Result<()> {
        match self.corrupt.iter().find(|c| c.tablet_id == tablet_id) {
            Some(bad) => Err(Error::new(
                StatusCode::MetaCorrupted,
                format!(
                    "tablet {tablet_id} has a damaged metadata record in {} ({}); drop the \
                     tablet first",
                    bad.root.display(),
                    bad.error
                ),
            )),
            None => Ok(()),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) roots: Vec<StorageRoot>,
    pub(crate) tablets: BTreeMap<i64, Entry>,
    pub(crate) corrupt: Vec<CorruptRecord>,
    cluster_id: Option<i32>,
    token: Option<Arc<str>>,
    // Per root: when the data size was last measured, and the result.
    pub(crate) data_used: Vec<Option<(Instant, i64)>>,
}

/// Every storage root of one backend. Methods do blocking file I/O.
pub struct StorageEngine {
    paths: Vec<PathBuf>,
    options: StorageOptions,
    inner: Mutex<Option<Inner>>,
    /// Tablets absent here that a full clone is creating (its [`crate::CloneWriter`] holds the
    /// claim): no create and no other clone of them meanwhile. Locked after `inner`, never
    /// before it.
    pub(crate) cloning: Arc<Mutex<BTreeSet<i64>>>,
    /// Rowset files whose bytes were checked against their recorded checksum (rowset files
    /// never change once written, and their names are never reused).
    verified: Mutex<std::collections::HashSet<PathBuf>>,
}

pub(crate) fn no_tablet(tablet_id: i64) -> Error {
    Error::new(
        StatusCode::InvalidArgument,
        format!("tablet {tablet_id} does not exist on this backend"),
    )
}

/// Refuses a replica whose data directory is missing.
pub(crate) fn usable(meta: &TabletMeta) -> Result<()> {
    match meta.state {
        TabletState::Normal => Ok(()),
        TabletState::MissingData => Err(Error::new(
            StatusCode::Io,
            format!(
                "tablet {} is not usable on this backend: its data directory is missing",
                meta.tablet_id
            ),
        )),
        TabletState::Corrupted => Err(Error::new(
            StatusCode::DataCorrupted,
            format!(
                "tablet {} is not usable on this backend: a rowset file does not match the \
                 checksum recorded when it was written (see the backend log); the replica is \
                 replaced by a clone from a healthy one",
                meta.tablet_id
            ),
        )),
    }
}

/// Files [`StorageEngine::verify_rowsets`] found intact since the process started; past this
/// many the set starts over (they are checked again on their next read).
const VERIFIED_MAX: usize = 200_000;

pub(crate) fn closed() -> Error {
    Error::new(
        StatusCode::Cancelled,
        "the storage engine is closed (the backend is stopping)",
    )
}

impl StorageEngine {
    /// Opens (creating when needed) and locks every root, checks that they agree on the
    /// cluster id, and loads the tablet metadata. Default options.
    pub fn open(paths: &[PathBuf]) -> Result<StorageEngine> {
        Self::open_with(paths, StorageOptions::default())
    }

    /// [`StorageEngine::open`] with options.
    pub fn open_with(paths: &[PathBuf], options: StorageOptions) -> Result<StorageEngine> {
        if paths.is_empty() {
            return Err(Error::invalid("no storage root path given"));
        }
        let mut roots = Vec::with_capacity(paths.len());
        for p in paths {
            roots.push(StorageRoot::open(p)?);
        }
        let cluster_id = Self::agree_on_cluster_id(&roots)?;
        let token = Self::agree_on_token(&roots)?;
        let mut tablets: BTreeMap<i64, Entry> = BTreeMap::new();
        let mut corrupt = Vec::new();
        for (i, root) in roots.iter().enumerate() {
            for record in root.load()? {
                match record {
                    Ok(mut meta) => {
                        if let Some(first) = tablets.get(&meta.tablet_id) {
                            let error = format!(
                                "tablet {} is also stored in {}; this copy is ignored",
                                meta.tablet_id,
                                roots[first.root].path.display()
                            );
                            tracing::error!(tablet_id = meta.tablet_id, root = %root.path.display(), "{error}");
                            corrupt.push(CorruptRecord {
                                tablet_id: meta.tablet_id,
                                root: root.path.clone(),
                                error,
                            });
                            continue;
                        }
                        let dir = root.tablet_dir(meta.tablet_id);
                        if meta.rowsets.is_empty() {
                            // A record written before tablets had rowsets.
                            meta.rowsets.push(RowsetMeta::base(meta.version));
                        }
                        meta.state = if dir.is_dir() {
                            remove_orphan_files(&dir, &meta);
                            TabletState::Normal
                        } else {
                            tracing::warn!(
                                tablet_id = meta.tablet_id,
                                dir = %dir.display(),
                                "the tablet's data directory is missing; it is reported as MISSING_DATA"
                            );
                            TabletState::MissingData
                        };
                        tablets.insert(meta.tablet_id, Entry::new(meta, i));
                    }
                    Err((tablet_id, error)) => {
                        tracing::error!(
                            tablet_id,
                            store = %root.path.join("meta/tablet_meta.redb").display(),
                            "the metadata record of tablet {tablet_id} cannot be decoded ({error}); \
                             the tablet is skipped"
                        );
                        corrupt.push(CorruptRecord {
                            tablet_id,
                            root: root.path.clone(),
                            error,
                        });
                    }
                }
            }
        }
        for (i, root) in roots.iter().enumerate() {
            remove_leftover_files(root, i, &tablets, &corrupt);
        }
        let n = roots.len();
        Ok(StorageEngine {
            paths: paths.to_vec(),
            options,
            cloning: Arc::default(),
            verified: Mutex::default(),
            inner: Mutex::new(Some(Inner {
                roots,
                tablets,
                corrupt,
                cluster_id,
                token,
                data_used: vec![None; n],
            })),
        })
    }

    fn agree_on_cluster_id(roots: &[StorageRoot]) -> Result<Option<i32>> {
        let mut found: Option<(i32, PathBuf)> = None;
        let mut missing = Vec::new();
        for root in roots {
            match (root.read_cluster_id()?, &found) {
                (None, _) => missing.push(root),
                (Some(id), None) => found = Some((id, root.path.clone())),
                (Some(id), Some((first, first_path))) if id != *first => {
                    return Err(Error::new(
                        StatusCode::ClusterIdMismatch,
                        format!(
                            "the storage roots belong to different clusters: {} says {first}, {} \
                             says {id}. A backend's roots must all belong to one cluster; remove \
                             the root that belongs elsewhere from storage_root_path",
                            first_path.join(CLUSTER_ID_FILE).display(),
                            root.path.join(CLUSTER_ID_FILE).display()
                        ),
                    ));
                }
                (Some(_), Some(_)) => {}
            }
        }
        if let Some((id, _)) = &found {
            // A root added since the cluster was bound gets the id now.
            for root in missing {
                tracing::info!(root = %root.path.display(), cluster_id = id, "storing the cluster id in a new storage root");
                root.write_cluster_id(*id)?;
            }
        }
        Ok(found.map(|(id, _)| id))
    }

    fn agree_on_token(roots: &[StorageRoot]) -> Result<Option<Arc<str>>> {
        let mut found: Option<(String, PathBuf)> = None;
        let mut missing = Vec::new();
        for root in roots {
            match (root.read_token()?, &found) {
                (None, _) => missing.push(root),
                (Some(t), None) => found = Some((t, root.path.clone())),
                (Some(t), Some((first, first_path))) if t != *first => {
                    return Err(Error::new(
                        StatusCode::InvalidToken,
                        format!(
                            "the storage roots hold different cluster tokens ({} and {}); a \
                             backend's roots must all belong to one cluster: remove the root \
                             that belongs elsewhere from storage_root_path",
                            first_path.join(TOKEN_FILE).display(),
                            root.path.join(TOKEN_FILE).display()
                        ),
                    ));
                }
                (Some(_), Some(_)) => {}
            }
        }
        if let Some((t, _)) = &found {
            for root in missing {
                root.write_token(t)?;
            }
        }
        Ok(found.map(|(t, _)| Arc::from(t.as_str())))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<Inner>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a full clone is creating `tablet_id` here.
    pub(crate) fn clone_in_progress(&self, tablet_id: i64) -> bool {
        self.cloning
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&tablet_id)
    }

    /// Releases every root (locks and metadata stores); later calls fail.
    pub fn close(&self) {
        self.lock().take();
    }

    /// The root directories, in `storage_root_path` order.
    pub fn root_paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The cluster this backend belongs to, once a heartbeat bound it.
    pub fn cluster_id(&self) -> Option<i32> {
        self.lock().as_ref().and_then(|i| i.cluster_id)
    }

    /// Binds this backend to `cluster_id` (written to every root) unless it already belongs to
    /// a cluster; returns whether it was newly bound. A different stored id is refused.
    pub fn bind_cluster_id(&self, cluster_id: i32) -> Result<bool> {
        if cluster_id <= 0 {
            return Err(Error::invalid(format!("{cluster_id} is not a cluster id")));
        }
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed)?;
        match inner.cluster_id {
            Some(id) if id == cluster_id => Ok(false),
            Some(id) => Err(Error::new(
                StatusCode::ClusterIdMismatch,
                format!(
                    "cluster id mismatch: this backend belongs to cluster {id}; the heartbeat \
                     came from cluster {cluster_id}"
                ),
            )),
            None => {
                for root in &inner.roots {
                    root.write_cluster_id(cluster_id)?;
                }
                inner.cluster_id = Some(cluster_id);
                Ok(true)
            }
        }
    }

    /// The cluster token, once a heartbeat brought it (or the roots held it).
    pub fn token(&self) -> Option<Arc<str>> {
        self.lock().as_ref().and_then(|i| i.token.clone())
    }

    /// Stores the cluster token (in every root) unless one is already known; returns whether
    /// it was newly stored. Another token is refused with "Unmatched token".
    pub fn bind_token(&self, token: &str) -> Result<bool> {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::new(
                StatusCode::InvalidToken,
                "invalid token: the heartbeat carries no usable cluster token",
            ));
        }
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed)?;
        match &inner.token {
            Some(t) if tokens_equal(t.as_bytes(), token.as_bytes()) => Ok(false),
            Some(_) => Err(Error::new(
                StatusCode::InvalidToken,
                "Unmatched token: the heartbeat's cluster token is not the one this backend \
                 stored when it joined its cluster; it comes from another cluster (or this \
                 backend's storage roots do)",
            )),
            None => {
                for root in &inner.roots {
                    root.write_token(token)?;
                }
                inner.token = Some(Arc::from(token));
                Ok(true)
            }
        }
    }

    /// Creates a tablet replica: its directory in the root with the most available space, then
    /// its metadata. Creating the same replica again succeeds; the same tablet id with another
    /// replica id, table, partition or schema is refused.
    pub fn create_tablet(&self, req: CreateTablet) -> Result<CreateOutcome> {
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed)?;
        inner.heal();
        if let Some(entry) = inner.tablets.get_mut(&req.tablet_id) {
            let m = &entry.meta;
            if m.replica_id != req.replica_id {
                return Err(Error::invalid(format!(
                    "tablet {} already exists on this backend as replica {}, not replica {}",
                    req.tablet_id, m.replica_id, req.replica_id
                )));
            }
            if m.table_id != req.table_id
                || m.partition_id != req.partition_id
                || m.schema != req.schema
            {
                return Err(Error::invalid(format!(
                    "tablet {} (replica {}) already exists on this backend with another table, \
                     partition or schema",
                    req.tablet_id, req.replica_id
                )));
            }
            if entry.meta.state == TabletState::MissingData {
                let root = &inner.roots[entry.root];
                let dir = root.tablet_dir(req.tablet_id);
                fs::create_dir_all(&dir).map_err(|e| {
                    write_error(
                        &root.path,
                        format!("create tablet directory {}", dir.display()),
                        e,
                    )
                })?;
                entry.meta.state = TabletState::Normal;
                tracing::info!(
                    tablet_id = req.tablet_id,
                    "recreated the missing data directory"
                );
            }
            return Ok(CreateOutcome::AlreadyExists);
        }
        inner.refuse_corrupt(req.tablet_id)?;
        if self.clone_in_progress(req.tablet_id) {
            return Err(Error::new(
                StatusCode::Cancelled,
                format!(
                    "tablet {} is being created on this backend by a clone; retry once the \
                     clone ends",
                    req.tablet_id
                ),
            ));
        }
        let root_idx = inner.emptiest_root()?;
        let root = &inner.roots[root_idx];
        let dir = root.tablet_dir(req.tablet_id);
        if dir.exists() {
            // A directory without metadata is a leftover of an interrupted drop.
            tracing::warn!(dir = %dir.display(), "removing a leftover tablet directory");
            fs::remove_dir_all(&dir)
                .map_err(|e| Error::io(format!("remove leftover {}", dir.display()), e))?;
        }
        if let Err(e) = fs::create_dir_all(&dir) {
            // A full disk may have let some of the path be created.
            let _ = fs::remove_dir(&dir);
            return Err(write_error(
                &root.path,
                format!("create tablet directory {}", dir.display()),
                e,
            ));
        }
        let meta = TabletMeta {
            tablet_id: req.tablet_id,
            replica_id: req.replica_id,
            table_id: req.table_id,
            partition_id: req.partition_id,
            schema: req.schema,
            version: req.version,
            create_time_ms: common::clock::now_ms(),
            state: TabletState::Normal,
            rowsets: vec![RowsetMeta::base(req.version)],
            pending: Vec::new(),
            stale: Vec::new(),
            cumulative_point: 0,
            last_base_compaction_ms: 0,
        };
        if let Err(e) = root.put(&meta) {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        inner.data_used[root_idx] = None;
        inner
            .tablets
            .insert(req.tablet_id, Entry::new(meta, root_idx));
        Ok(CreateOutcome::Created)
    }

    /// Drops a tablet replica: its metadata, then its directory. Dropping a tablet this
    /// backend does not have succeeds (returns false). `replica_id` 0 drops whatever replica
    /// is here; another id that differs is refused.
    pub fn drop_tablet(&self, tablet_id: i64, replica_id: i64) -> Result<bool> {
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed)?;
        inner.heal();
        if let Some(entry) = inner.tablets.get(&tablet_id) {
            if replica_id != 0 && entry.meta.replica_id != replica_id {
                return Err(Error::invalid(format!(
                    "tablet {tablet_id} on this backend is replica {}, not replica {replica_id}; \
                     not dropped",
                    entry.meta.replica_id
                )));
            }
            let root_idx = entry.root;
            let root = &inner.roots[root_idx];
            root.delete(tablet_id)?;
            inner.tablets.remove(&tablet_id);
            inner.data_used[root_idx] = None;
            let dir = root.tablet_dir(tablet_id);
            remove_tablet_dir(&dir);
            return Ok(true);
        }
        // A damaged record can be dropped too: that is how it is cleared.
        let mut dropped = false;
        let bad: Vec<CorruptRecord> = inner
            .corrupt
            .iter()
            .filter(|c| c.tablet_id == tablet_id)
            .cloned()
            .collect();
        for rec in bad {
            if let Some((i, root)) = inner
                .roots
                .iter()
                .enumerate()
                .find(|(_, r)| r.path == rec.root)
            {
                root.delete(tablet_id)?;
                remove_tablet_dir(&root.tablet_dir(tablet_id));
                inner.data_used[i] = None;
                dropped = true;
            }
        }
        inner.corrupt.retain(|c| c.tablet_id != tablet_id);
        Ok(dropped)
    }

    /// How many tablets this backend holds.
    pub fn tablet_count(&self) -> usize {
        self.lock().as_ref().map(|i| i.tablets.len()).unwrap_or(0)
    }

    /// One tablet's metadata (with the state derived at open or create).
    pub fn tablet_meta(&self, tablet_id: i64) -> Option<TabletMeta> {
        self.lock()
            .as_ref()
            .and_then(|i| i.tablets.get(&tablet_id).map(|e| e.meta.clone()))
    }

    /// Every tablet with its current state and size, by tablet id.
    pub fn tablets(&self) -> Result<Vec<TabletStatus>> {
        // Copy under the lock, measure the files without it.
        let snapshot: Vec<(TabletMeta, PathBuf)> = {
            let guard = self.lock();
            let inner = guard.as_ref().ok_or_else(closed)?;
            inner
                .tablets
                .values()
                .map(|e| {
                    (
                        e.meta.clone(),
                        inner.roots[e.root].tablet_dir(e.meta.tablet_id),
                    )
                })
                .collect()
        };
        Ok(snapshot
            .into_iter()
            .map(|(mut meta, dir)| {
                let exists = dir.is_dir();
                if !exists {
                    meta.state = TabletState::MissingData;
                }
                TabletStatus {
                    data_size: if exists { dir_bytes(&dir) } else { 0 },
                    row_count: meta.visible_rows(),
                    meta,
                    dir,
                }
            })
            .collect())
    }

    /// Metadata records that could not be decoded when the roots were opened.
    pub fn corrupt_records(&self) -> Vec<CorruptRecord> {
        self.lock()
            .as_ref()
            .map(|i| i.corrupt.clone())
            .unwrap_or_default()
    }

    /// Capacity of every root. The bytes under `data/` are measured again when older than
    /// `max_age` or after a tablet was created or dropped in that root.
    pub fn disks(&self, max_age: Duration) -> Result<Vec<DiskStat>> {
        let stale: Vec<(usize, PathBuf)> = {
            let guard = self.lock();
            let inner = guard.as_ref().ok_or_else(closed)?;
            inner
                .data_used
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_none_or(|(at, _)| at.elapsed() > max_age))
                .map(|(i, _)| (i, inner.roots[i].path.join("data")))
                .collect()
        };
        let measured: Vec<(usize, i64)> = stale
            .into_iter()
            .map(|(i, data)| (i, dir_bytes(&data)))
            .collect();
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed)?;
        let now = Instant::now();
        for (i, bytes) in measured {
            inner.data_used[i] = Some((now, bytes));
        }
        Ok(inner
            .roots
            .iter()
            .zip(&inner.data_used)
            .map(|(root, used)| {
                let (total, available) = root.capacity();
                DiskStat {
                    root_path: root.path.clone(),
                    total_bytes: total,
                    available_bytes: available,
                    data_used_bytes: used.map(|(_, b)| b).unwrap_or(0),
                }
            })
            .collect())
    }

    /// Starts a pending rowset for `txn_id` in a tablet: batches go to the returned writer
    /// (blocking file I/O, without the engine's lock), then [`StorageEngine::commit_rowset`]
    /// records it.
    pub fn rowset_writer(
        &self,
        txn_id: i64,
        tablet_id: i64,
        partition_id: i64,
    ) -> Result<RowsetWriter> {
        let guard = self.lock();
        let inner = guard.as_ref().ok_or_else(closed)?;
        let entry = inner
            .tablets
            .get(&tablet_id)
            .ok_or_else(|| no_tablet(tablet_id))?;
        usable(&entry.meta)?;
        if txn_id <= 0 {
            return Err(Error::invalid(format!("invalid transaction id {txn_id}")));
        }
        if partition_id != entry.meta.partition_id {
            return Err(Error::invalid(format!(
                "tablet {tablet_id} belongs to partition {}, not partition {partition_id}",
                entry.meta.partition_id
            )));
        }
        if let Some(r) = entry.meta.published(txn_id) {
            return Err(Error::new(
                StatusCode::TxnStateInvalid,
                format!(
                    "transaction {txn_id} was already published to tablet {tablet_id} at version \
                     {}",
                    r.end_version
                ),
            ));
        }
        let count = entry.meta.version_count();
        let limit = self.options.tablet_max_versions;
        if count > limit {
            return Err(too_many_versions(tablet_id, count, limit));
        }
        let root = &inner.roots[entry.root];
        root.check_flood_stage(&self.options.flood_stage, 0)
            .map_err(|e| Error::new(e.code, format!("tablet {tablet_id}: {}", e.message)))?;
        let dir = root.tablet_dir(tablet_id);
        Ok(RowsetWriter::new(
            tablet_id,
            txn_id,
            partition_id,
            dir,
            &entry.meta.schema,
        ))
    }

    /// Finishes a writer's file (fsync, rename) and records the rowset as pending for its
    /// transaction, replacing an earlier pending rowset of the same transaction (a retried
    /// write). The rowset is invisible until published.
    pub fn commit_rowset(&self, writer: RowsetWriter) -> Result<RowsetMeta> {
        let (txn_id, tablet_id) = (writer.txn_id, writer.tablet_id);
        let rowset = writer.finish()?;
        let committed = (|| {
            let mut guard = self.lock();
            let inner = guard.as_mut().ok_or_else(closed)?;
            inner.heal();
            let entry = inner
                .tablets
                .get_mut(&tablet_id)
                .ok_or_else(|| no_tablet(tablet_id))?;
            usable(&entry.meta)?;
            if let Some(r) = entry.meta.published(txn_id) {
                return Err(Error::new(
                    StatusCode::TxnStateInvalid,
                    format!(
                        "transaction {txn_id} was already published to tablet {tablet_id} at \
                         version {}",
                        r.end_version
                    ),
                ));
            }
            let mut meta = entry.meta.clone();
            let replaced: Vec<RowsetMeta> = meta
                .pending
                .iter()
                .filter(|r| r.txn_id == txn_id)
                .cloned()
                .collect();
            meta.pending.retain(|r| r.txn_id != txn_id);
            meta.pending.push(rowset.clone());
            let root = &inner.roots[entry.root];
            root.put(&meta)?;
            entry.meta = meta;
            inner.data_used[entry.root] = None;
            remove_files(&root.tablet_dir(tablet_id), &replaced);
            Ok(())
        })();
        if let Err(e) = committed {
            // The file is not recorded anywhere: remove it now (a crash leaves it to the
            // orphan sweep at the next open).
            if let Some(dir) = self.tablet_dir(tablet_id) {
                remove_files(&dir, std::slice::from_ref(&rowset));
            }
            return Err(e);
        }
        Ok(rowset)
    }

    /// Makes transaction `txn_id`'s pending rowset in a tablet visible as version `version`,
    /// whatever the replica's version: a replica that missed a load keeps taking the later
    /// ones while a clone fills the hole (as StarRocks does). The replica's version is then the
    /// highest version reachable from 0 without a hole ([`TabletMeta::contiguous_version`]), so
    /// it stays below `version` while a hole remains; that version is returned.
    ///
    /// - Publishing a transaction again at the same version succeeds; at another version it
    ///   is refused.
    /// - When a visible or stale rowset already covers `version` (a clone installed it), the
    ///   transaction's pending rowset, if any, is dropped with its file and the call succeeds.
    /// - Otherwise a transaction without a pending rowset is refused: this replica missed the
    ///   load (the FE repairs it).
    pub fn publish(
        &self,
        txn_id: i64,
        tablet_id: i64,
        partition_id: i64,
        version: i64,
    ) -> Result<i64> {
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed)?;
        inner.heal();
        let entry = inner
            .tablets
            .get_mut(&tablet_id)
            .ok_or_else(|| no_tablet(tablet_id))?;
        usable(&entry.meta)?;
        let meta = &entry.meta;
        if partition_id != 0 && partition_id != meta.partition_id {
            return Err(Error::invalid(format!(
                "tablet {tablet_id} belongs to partition {}, not partition {partition_id}",
                meta.partition_id
            )));
        }
        if version <= 0 {
            return Err(Error::invalid(format!(
                "tablet {tablet_id}: {version} is not a version a load can publish"
            )));
        }
        if let Some(r) = meta.published(txn_id)
            && (r.start_version != version || r.end_version != version)
        {
            return Err(Error::new(
                StatusCode::TxnStateInvalid,
                format!(
                    "tablet {tablet_id}: transaction {txn_id} was already published as version \
                     {}, not {version}",
                    r.versions()
                ),
            ));
        }
        let pos = meta.pending.iter().position(|r| r.txn_id == txn_id);
        if meta.published(txn_id).is_some() || meta.covers(version) {
            // Already there (a retried publish, or a clone brought the version): a pending
            // rowset of the transaction is a duplicate.
            if let Some(pos) = pos {
                let mut meta = meta.clone();
                let dropped = meta.pending.remove(pos);
                let root = &inner.roots[entry.root];
                root.put(&meta)?;
                entry.meta = meta;
                inner.data_used[entry.root] = None;
                remove_files(&root.tablet_dir(tablet_id), std::slice::from_ref(&dropped));
                tracing::info!(
                    tablet_id,
                    txn_id,
                    version,
                    "version already present; the transaction's pending rowset was dropped"
                );
            }
            return Ok(entry.meta.version);
        }
        let Some(pos) = pos else {
            return Err(Error::new(
                StatusCode::TxnStateInvalid,
                format!(
                    "tablet {tablet_id} has no pending rowset for transaction {txn_id} (replica \
                     version {}, publish version {version}): this replica missed the load and \
                     will be repaired",
                    meta.version
                ),
            ));
        };
        let mut meta = meta.clone();
        let mut rowset = meta.pending.remove(pos);
        rowset.start_version = version;
        rowset.end_version = version;
        meta.rowsets.push(rowset);
        meta.rowsets
            .sort_by_key(|r| (r.start_version, r.end_version));
        meta.version = meta.contiguous_version();
        if meta.version < version {
            tracing::info!(
                tablet_id,
                txn_id,
                version,
                replica_version = meta.version,
                "published above a hole; the replica waits for a clone of the missing versions"
            );
        }
        inner.roots[entry.root].put(&meta)?;
        entry.meta = meta;
        Ok(entry.meta.version)
    }

    /// Drops every pending rowset of `txn_id` (an aborted load); how many there were.
    pub fn abort_txn(&self, txn_id: i64) -> Result<usize> {
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed)?;
        inner.heal();
        let mut n = 0;
        let ids: Vec<i64> = inner
            .tablets
            .iter()
            .filter(|(_, e)| e.meta.pending.iter().any(|r| r.txn_id == txn_id))
            .map(|(id, _)| *id)
            .collect();
        for tablet_id in ids {
            let Some(entry) = inner.tablets.get_mut(&tablet_id) else {
                continue;
            };
            let mut meta = entry.meta.clone();
            let dropped: Vec<RowsetMeta> = meta
                .pending
                .iter()
                .filter(|r| r.txn_id == txn_id)
                .cloned()
                .collect();
            meta.pending.retain(|r| r.txn_id != txn_id);
            let root = &inner.roots[entry.root];
            root.put(&meta)?;
            entry.meta = meta;
            remove_files(&root.tablet_dir(tablet_id), &dropped);
            inner.data_used[entry.root] = None;
            n += dropped.len();
        }
        Ok(n)
    }

    /// The rowsets and files of a tablet at `version` (which must not be above the replica's
    /// visible version). An older version is read through the stale rowsets a compaction
    /// replaced, while they exist. The returned view pins its rowsets: they stay on disk while
    /// it (or its batch iterator) lives, or until the tablet is dropped.
    pub fn read_at(&self, tablet_id: i64, version: i64) -> Result<TabletRead> {
        let (read, dir) = self.read_at_unverified(tablet_id, version)?;
        // Pinned: checked without the lock. Nothing of a damaged file is ever served.
        self.verify_rowsets(tablet_id, &dir, &read.rowsets)?;
        Ok(read)
    }

    fn read_at_unverified(&self, tablet_id: i64, version: i64) -> Result<(TabletRead, PathBuf)> {
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed)?;
        let entry = inner
            .tablets
            .get(&tablet_id)
            .ok_or_else(|| no_tablet(tablet_id))?;
        usable(&entry.meta)?;
        let meta = &entry.meta;
        if version > meta.version {
            return Err(Error::invalid(format!(
                "tablet {tablet_id} cannot be read at version {version}: this replica is at \
                 version {}",
                meta.version
            )));
        }
        let rowsets = path_at(meta, version)?;
        let dir = inner.roots[entry.root].tablet_dir(tablet_id);
        let files = rowsets
            .iter()
            .flat_map(|r| r.files.iter().map(|f| dir.join(f)))
            .collect();
        let pin = Arc::new(ReadPin {
            rowset_ids: rowsets.iter().map(|r| r.rowset_id.clone()).collect(),
        });
        let read = TabletRead {
            tablet_id,
            version,
            schema: meta.schema.clone(),
            arrow_schema: arrow_schema(&meta.schema),
            rowsets,
            files,
            pin: pin.clone(),
        };
        if let Some(entry) = inner.tablets.get_mut(&tablet_id) {
            entry.readers.retain(|w| w.strong_count() > 0);
            entry.readers.push(Arc::downgrade(&pin));
        }
        Ok((read, dir))
    }

    /// Checks the files of `rowsets` (in the tablet's directory `dir`, pinned by the caller)
    /// against the length and CRC32 recorded when each was written, each file once per process
    /// (a file read before was checked then). A mismatch marks the replica
    /// [`TabletState::Corrupted`] (never served again; reported to the frontend, which replaces
    /// it by a clone) and is a [`StatusCode::DataCorrupted`] error. Files of rowsets written
    /// before checksums were recorded are not checked. Blocking: reads each unchecked file
    /// whole once.
    pub fn verify_rowsets(&self, tablet_id: i64, dir: &Path, rowsets: &[RowsetMeta]) -> Result<()> {
        let verified = || self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        for r in rowsets {
            for (name, sum) in r.files_with_checksums() {
                let Some(sum) = sum else { continue };
                let path = dir.join(name);
                if verified().contains(&path) {
                    continue;
                }
                if let Err(why) = verify_file(&path, &sum) {
                    return Err(self.mark_corrupted(tablet_id, &path, r, &why));
                }
                let mut set = verified();
                if set.len() >= VERIFIED_MAX {
                    set.clear();
                }
                set.insert(path);
            }
        }
        Ok(())
    }

    /// Marks a replica damaged because `path` (a file of `rowset`) failed its check; returns
    /// the error to answer with.
    fn mark_corrupted(&self, tablet_id: i64, path: &Path, rowset: &RowsetMeta, why: &str) -> Error {
        let message = format!(
            "tablet {tablet_id}: rowset file {} (rowset {} {}) is damaged: {why}. The replica is \
             no longer served (scans and clones refuse it); it is reported to the frontend as \
             CORRUPTED and replaced by a clone from a healthy replica",
            path.display(),
            rowset.rowset_id,
            rowset.versions()
        );
        let mut guard = self.lock();
        if let Some(entry) = guard.as_mut().and_then(|i| i.tablets.get_mut(&tablet_id)) {
            // Only if the replica still holds that rowset (a clone may have replaced it since).
            let holds = entry
                .meta
                .rowsets
                .iter()
                .chain(entry.meta.stale.iter().map(|s| &s.rowset))
                .any(|r| r.rowset_id == rowset.rowset_id);
            if holds && entry.meta.state == TabletState::Normal {
                entry.meta.state = TabletState::Corrupted;
                tracing::error!(tablet_id, file = %path.display(), "{message}");
            }
        }
        Error::new(StatusCode::DataCorrupted, message)
    }

    /// Checks every tablet's files at its current version ([`StorageEngine::verify_rowsets`]);
    /// run in the background after a start, so a damaged replica is reported before a query
    /// or a clone would read it. Returns the tablets found damaged. Blocking: reads every
    /// unchecked file once.
    pub fn verify_all(&self) -> Vec<i64> {
        let tablets: Vec<(i64, i64)> = match self.lock().as_ref() {
            Some(inner) => inner
                .tablets
                .values()
                .filter(|e| e.meta.state == TabletState::Normal)
                .map(|e| (e.meta.tablet_id, e.meta.version))
                .collect(),
            None => return Vec::new(),
        };
        let mut damaged = Vec::new();
        for (tablet_id, version) in tablets {
            match self.read_at(tablet_id, version) {
                Ok(_) => {}
                Err(e) if e.code == StatusCode::DataCorrupted => damaged.push(tablet_id),
                Err(e) if e.code == StatusCode::Cancelled => break,
                Err(e) => tracing::debug!(tablet_id, "not verified: {e}"),
            }
        }
        damaged
    }

    /// The options the engine was opened with.
    pub fn options(&self) -> &StorageOptions {
        &self.options
    }

    /// A tablet's directory, if the tablet is here.
    pub fn tablet_dir(&self, tablet_id: i64) -> Option<PathBuf> {
        let guard = self.lock();
        let inner = guard.as_ref()?;
        inner
            .tablets
            .get(&tablet_id)
            .map(|e| inner.roots[e.root].tablet_dir(tablet_id))
    }

    /// Test support: plants raw bytes as the metadata record of `tablet_id` in root `root`.
    #[doc(hidden)]
    pub fn put_raw_record(&self, root: usize, tablet_id: i64, bytes: &[u8]) -> Result<()> {
        let guard = self.lock();
        let inner = guard.as_ref().ok_or_else(closed)?;
        inner
            .roots
            .get(root)
            .ok_or_else(|| Error::invalid(format!("no storage root {root}")))?
            .put_raw(tablet_id, bytes)
    }
}

/// The rowsets a read of `version` goes through: the version path over the visible and stale
/// rowsets (older versions are read through the stale rowsets a compaction replaced).
pub(crate) fn path_at(meta: &TabletMeta, version: i64) -> Result<Vec<RowsetMeta>> {
    let tablet_id = meta.tablet_id;
    let rowsets = if meta.stale.is_empty() {
        version_path(tablet_id, &meta.rowsets, version)
    } else {
        let all: Vec<RowsetMeta> = meta
            .rowsets
            .iter()
            .chain(meta.stale.iter().map(|s| &s.rowset))
            .cloned()
            .collect();
        version_path(tablet_id, &all, version)
    };
    rowsets.map_err(|e| {
        // A version inside a merged rowset whose inputs are gone: say so.
        match meta
            .rowsets
            .iter()
            .find(|r| r.start_version <= version && version < r.end_version)
        {
            Some(merged) => Error::invalid(format!(
                "tablet {tablet_id} cannot be read at version {version}: compaction merged \
                 versions {} into one rowset and the rowsets of the versions inside were \
                 removed (tablet_rowset_stale_sweep_time_sec); read version {} or a later \
                 one",
                merged.versions(),
                merged.end_version
            )),
            None => e,
        }
    })
}

/// Removes the files in a tablet directory that its metadata does not name: temporary files of
/// interrupted writes and rowset files whose metadata commit never happened. Only called when
/// no writer can be active (at open).
fn remove_orphan_files(dir: &std::path::Path, meta: &TabletMeta) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let known: std::collections::HashSet<&str> = meta.files().collect();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if is_rowset_file(name)
            && !known.contains(name)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            tracing::info!(
                tablet_id = meta.tablet_id,
                file = name,
                "removing a rowset file no metadata names (an interrupted write)"
            );
            if let Err(e) = fs::remove_file(entry.path()) {
                tracing::warn!(file = %entry.path().display(), %e, "cannot remove an orphan file");
            }
        }
    }
}

/// Whether a file name is one of a rowset's (finished or being written).
fn is_rowset_file(name: &str) -> bool {
    name.ends_with(&format!(".{TMP_EXT}")) || name.ends_with(&format!(".{DATA_EXT}"))
}

/// Clears the tablet directories of a root that no metadata record of that root owns: the
/// leftovers of a full clone (or a create) interrupted before its record was written, or of
/// a drop interrupted after it. Their rowset files are removed, then the directory if nothing
/// else is left in it. Directories of damaged records are kept (their data may be needed).
/// Only called at open, when no writer can be active.
fn remove_leftover_files(
    root: &StorageRoot,
    root_idx: usize,
    tablets: &BTreeMap<i64, Entry>,
    corrupt: &[CorruptRecord],
) {
    let Ok(shards) = fs::read_dir(root.path.join("data")) else {
        return;
    };
    for shard in shards.flatten() {
        let Ok(dirs) = fs::read_dir(shard.path()) else {
            continue;
        };
        for dir in dirs.flatten() {
            let Some(tablet_id) = dir.file_name().to_str().and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            let path = dir.path();
            if root.tablet_dir(tablet_id) != path
                || tablets.get(&tablet_id).is_some_and(|e| e.root == root_idx)
                || corrupt.iter().any(|c| c.tablet_id == tablet_id)
            {
                continue;
            }
            let Ok(files) = fs::read_dir(&path) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name();
                if name.to_str().is_some_and(is_rowset_file)
                    && file.file_type().is_ok_and(|t| t.is_file())
                {
                    tracing::info!(
                        tablet_id,
                        file = %file.path().display(),
                        "removing a rowset file of a tablet directory without metadata"
                    );
                    if let Err(e) = fs::remove_file(file.path()) {
                        tracing::warn!(
                            file = %file.path().display(),
                            %e,
                            "cannot remove a leftover file"
                        );
                    }
                }
            }
            // Only when empty: anything else in it is not ours to delete.
            if fs::remove_dir(&path).is_ok() {
                tracing::info!(
                    tablet_id,
                    dir = %path.display(),
                    "removed a leftover tablet directory"
                );
            }
        }
    }
}

/// The refusal of a load into a tablet with too many versions (StarRocks's message).
fn too_many_versions(tablet_id: i64, count: usize, limit: usize) -> Error {
    Error::new(
        StatusCode::LimitExceeded,
        format!(
            "Failed to load data into tablet {tablet_id}, because of too many versions, \
             current/limit: {count}/{limit}. Load less often with more rows per load, or wait \
             for compaction to merge the versions (tablet_max_versions in be.conf is the limit)"
        ),
    )
}

pub(crate) fn remove_tablet_dir(dir: &std::path::Path) {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            // The metadata is gone, so the directory is garbage a later create clears.
            tracing::warn!(dir = %dir.display(), %e, "cannot remove a dropped tablet's directory");
        }
    }
}

/// Compares two tokens in time that depends on their lengths only.
fn tokens_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
