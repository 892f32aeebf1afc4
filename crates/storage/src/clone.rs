//! Replica repair by clone: copying rowsets from a healthy replica of a tablet (the source)
//! to a lagging, damaged or new one (the destination), as StarRocks's clone task does.
//!
//! - **Source**: [`StorageEngine::clone_snapshot`] names the rowsets to copy and their files,
//!   and pins them (like a [`crate::TabletRead`]) so the stale sweeper keeps them while they
//!   are copied. An *incremental* snapshot holds the rowsets (visible or stale) covering
//!   exactly the versions the destination misses; when compaction merged them and the
//!   single-version rowsets were swept it fails with [`StatusCode::VersionsCompacted`] and the
//!   caller falls back to a *full* snapshot: the rowsets on the version path `[0, version]`.
//! - **Destination**: [`StorageEngine::missing_versions`] says what is missing,
//!   [`StorageEngine::begin_clone`] returns a [`CloneWriter`] that receives the files (each
//!   checked against the sender's length and CRC32, fsynced and renamed under a fresh local
//!   name) and [`StorageEngine::finish_clone`] installs the rowsets in one metadata commit.
//!
//! Crash safety is the loads': every file is durable before the metadata names it, so a crash
//! before the commit leaves files no record names, removed at the next open (in an existing
//! tablet's directory by the orphan sweep, in a directory without a record by the leftover
//! sweep). Clone and compaction of a tablet exclude each other: the writer holds the tablet's
//! "compacting" flag (or, for a tablet being created, a claim on its id) until it is dropped.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::HashSet;
use std::fs;
use std::fs::File;
use std::io::BufWriter;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;

use common::Error;
use common::Result;
use common::StatusCode;
use common::schema::TableSchema;

use crate::disk::write_error;
use crate::engine::Entry;
use crate::engine::Inner;
use crate::engine::StorageEngine;
use crate::engine::closed;
use crate::engine::no_tablet;
use crate::engine::path_at;
use crate::engine::remove_tablet_dir;
use crate::engine::usable;
use crate::meta::StaleRowset;
use crate::meta::TabletMeta;
use crate::meta::TabletState;
use crate::meta::contiguous_version;
use crate::rowset::DATA_EXT;
use crate::rowset::FileChecksum;
use crate::rowset::ReadPin;
use crate::rowset::RowsetMeta;
use crate::rowset::TMP_EXT;
use crate::rowset::check_parquet_file;
use crate::rowset::new_rowset_id;
use crate::rowset::remove_files;
use crate::types::arrow_schema;

/// One file of a [`CloneSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFile {
    /// The source's id of the rowset the file belongs to.
    pub rowset_id: String,
    /// The file's name (as the rowset's metadata names it).
    pub name: String,
    /// Where it is on the source.
    pub path: PathBuf,
    /// Its length when the snapshot was taken (rowset files never change).
    pub len: u64,
}

/// What a clone copies from a source replica: rowsets and their files, pinned on disk while
/// the snapshot (or a clone of it) lives.
#[derive(Clone, Debug)]
pub struct CloneSnapshot {
    /// The tablet.
    pub tablet_id: i64,
    /// Its schema on the source.
    pub schema: TableSchema,
    /// The version the snapshot was taken at (the destination passes it to
    /// [`StorageEngine::finish_clone`]).
    pub version: i64,
    /// A full snapshot (`[0, version]`) rather than an incremental one (the missing versions).
    pub full: bool,
    /// The rowsets to copy, in version order, with the source's rowset ids and file names.
    pub rowsets: Vec<RowsetMeta>,
    /// Their files, in rowset order.
    pub files: Vec<SnapshotFile>,
    pin: Arc<ReadPin>,
}

impl CloneSnapshot {
    /// Bytes of all its files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }

    /// The pin that keeps its files on disk (a server streaming them can hold it).
    pub fn pin(&self) -> Arc<ReadPin> {
        self.pin.clone()
    }
}

/// The replica a clone writes: which tablet, and what it is when the clone creates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloneTarget {
    /// The tablet.
    pub tablet_id: i64,
    /// The destination replica's id (an existing tablet must be that replica).
    pub replica_id: i64,
    /// The table (recorded when the clone creates the tablet).
    pub table_id: i64,
    /// The partition (recorded when the clone creates the tablet).
    pub partition_id: i64,
    /// The table's schema (recorded when the clone creates the tablet; the received files
    /// must have its columns).
    pub schema: TableSchema,
}

/// What a finished clone did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloneOutcome {
    /// The replica's (contiguous) version after.
    pub version: i64,
    /// Rows of the replica's readable rowsets after ([`TabletMeta::visible_rows`]).
    pub rows: i64,
    /// Bytes of the files installed (files of rowsets skipped because a publish raced the
    /// clone do not count).
    pub bytes: u64,
    /// Whether it was a full clone.
    pub full: bool,
    /// How many rowsets became visible.
    pub rowsets_added: usize,
}

/// What a clone writes into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dest {
    /// A usable tablet here.
    Existing,
    /// A tablet whose data directory is missing (MISSING_DATA): a full clone rebuilds it.
    Rebuild,
    /// No tablet here: a full clone creates it.
    Absent,
}

/// Keeps other clones and compactions of the tablet off while a writer lives.
enum Claim {
    /// The tablet's "compacting" flag, set by the writer.
    Compacting(Arc<AtomicBool>),
    /// The tablet's id in the engine's set of tablets being created by a clone.
    Incoming(Arc<Mutex<BTreeSet<i64>>>, i64),
}

impl Drop for Claim {
    fn drop(&mut self) {
        match self {
            Claim::Compacting(flag) => flag.store(false, Ordering::SeqCst),
            Claim::Incoming(set, tablet_id) => {
                set.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(tablet_id);
            }
        }
    }
}

/// A file received completely.
struct Received {
    rowset_id: String,
    name: String,
    local: String,
    len: u64,
    crc32: u32,
}

/// The file being received.
struct Current {
    rowset_id: String,
    name: String,
    local: String,
    tmp: PathBuf,
    out: BufWriter<File>,
    crc: crc32fast::Hasher,
    len: u64,
}

/// Receives a clone's files into the destination tablet's directory (blocking file I/O, no
/// engine lock): [`CloneWriter::start_file`], [`CloneWriter::write`]s,
/// [`CloneWriter::finish_file`] per file, then [`StorageEngine::finish_clone`]. Dropped
/// without being installed, it removes every file it wrote (and the directory it created).
/// While it lives no compaction and no other clone of the tablet runs.
pub struct CloneWriter {
    tablet_id: i64,
    replica_id: i64,
    table_id: i64,
    partition_id: i64,
    schema: TableSchema,
    full: bool,
    dest: Dest,
    root: usize,
    dir: PathBuf,
    created_dir: bool,
    /// Source rowset id -> local rowset id.
    local_ids: BTreeMap<String, String>,
    files: Vec<Received>,
    current: Option<Current>,
    bytes_written: u64,
    installed: bool,
    _claim: Claim,
}

impl CloneWriter {
    /// The tablet.
    pub fn tablet_id(&self) -> i64 {
        self.tablet_id
    }

    /// Whether it is a full clone.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// The directory the files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes passed to [`CloneWriter::write`] so far (a file refused and sent again counts
    /// twice: this is what was transferred).
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Starts receiving file `name` of the source's rowset `rowset_id`. It is written under a
    /// fresh local name (`<new rowset id>_<n>.parquet`, one new id per source rowset), as a
    /// `.tmp` file until [`CloneWriter::finish_file`].
    pub fn start_file(&mut self, rowset_id: &str, name: &str) -> Result<()> {
        let tablet_id = self.tablet_id;
        if let Some(cur) = &self.current {
            return Err(Error::invalid(format!(
                "clone of tablet {tablet_id}: file {} of rowset {} is not finished; finish it \
                 before starting file {name}",
                cur.name, cur.rowset_id
            )));
        }
        if rowset_id.is_empty() || name.is_empty() {
            return Err(Error::invalid(format!(
                "clone of tablet {tablet_id}: a file needs a rowset id and a name (got \
                 '{rowset_id}' and '{name}')"
            )));
        }
        if self
            .files
            .iter()
            .any(|f| f.rowset_id == rowset_id && f.name == name)
        {
            return Err(Error::invalid(format!(
                "clone of tablet {tablet_id}: file {name} of rowset {rowset_id} was already \
                 received"
            )));
        }
        let local_id = self
            .local_ids
            .entry(rowset_id.to_string())
            .or_insert_with(|| new_rowset_id("cl"))
            .clone();
        let index = self
            .files
            .iter()
            .filter(|f| f.rowset_id == rowset_id)
            .count();
        let local = format!("{local_id}_{index}.{DATA_EXT}");
        let tmp = self.dir.join(format!("{local}.{TMP_EXT}"));
        let file = match File::create(&tmp) {
            Ok(f) => f,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(self.io_error(format!("create {}", tmp.display()), e));
            }
        };
        self.current = Some(Current {
            rowset_id: rowset_id.to_string(),
            name: name.to_string(),
            local,
            tmp,
            out: BufWriter::with_capacity(1 << 20, file),
            crc: crc32fast::Hasher::new(),
            len: 0,
        });
        Ok(())
    }

    /// The error of a failed write of a clone's file (DiskFull when the disk is full).
    fn io_error(&self, what: impl std::fmt::Display, e: std::io::Error) -> Error {
        write_error(
            crate::root::root_of_tablet_dir(&self.dir),
            format!("clone of tablet {}: {what}", self.tablet_id),
            e,
        )
    }

    /// Appends bytes to the file being received.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let tablet_id = self.tablet_id;
        let Some(cur) = self.current.as_mut() else {
            return Err(Error::invalid(format!(
                "clone of tablet {tablet_id}: bytes came before any file was started"
            )));
        };
        if let Err(e) = cur.out.write_all(bytes) {
            let what = format!("write {}", cur.tmp.display());
            return Err(self.io_error(what, e));
        }
        cur.crc.update(bytes);
        cur.len += bytes.len() as u64;
        self.bytes_written += bytes.len() as u64;
        Ok(())
    }

    /// Ends the file being received, which the sender says is `len` bytes with CRC32 `crc32`.
    /// On a mismatch the file is discarded ([`StatusCode::ChecksumMismatch`]; it may be sent
    /// again); otherwise it is fsynced, renamed to its final name and the directory fsynced.
    pub fn finish_file(&mut self, len: u64, crc32: u32) -> Result<()> {
        let tablet_id = self.tablet_id;
        let Some(cur) = self.current.take() else {
            return Err(Error::invalid(format!(
                "clone of tablet {tablet_id}: a file end came before any file was started"
            )));
        };
        let Current {
            rowset_id,
            name,
            local,
            tmp,
            out,
            crc,
            len: got,
        } = cur;
        let actual = crc.finalize();
        let file = match out.into_inner() {
            Ok(f) => f,
            Err(e) => {
                let e = e.into_error();
                let _ = fs::remove_file(&tmp);
                return Err(self.io_error(format!("write {}", tmp.display()), e));
            }
        };
        if got != len || actual != crc32 {
            drop(file);
            let _ = fs::remove_file(&tmp);
            return Err(Error::new(
                StatusCode::ChecksumMismatch,
                format!(
                    "clone of tablet {tablet_id}: file {name} of rowset {rowset_id} does not \
                     match what the source sent: expected {len} bytes with CRC32 {crc32:08x}, \
                     received {got} bytes with CRC32 {actual:08x}; the file was discarded"
                ),
            ));
        }
        let path = self.dir.join(&local);
        let finish = || -> std::io::Result<()> {
            file.sync_all()?;
            drop(file);
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        if let Err(e) = finish() {
            let _ = fs::remove_file(&tmp);
            let _ = fs::remove_file(&path);
            return Err(self.io_error(format!("finish {}", path.display()), e));
        }
        self.files.push(Received {
            rowset_id,
            name,
            local,
            len,
            crc32,
        });
        Ok(())
    }
}

impl Drop for CloneWriter {
    fn drop(&mut self) {
        if self.installed {
            return;
        }
        if let Some(cur) = self.current.take() {
            drop(cur.out);
            let _ = fs::remove_file(&cur.tmp);
        }
        for f in &self.files {
            let p = self.dir.join(&f.local);
            if let Err(e) = fs::remove_file(&p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(
                    file = %p.display(),
                    %e,
                    "cannot remove a file of an abandoned clone"
                );
            }
        }
        if self.created_dir {
            remove_tablet_dir(&self.dir);
        }
    }
}

/// The refusal of a clone while a compaction or another clone of the tablet runs.
fn busy(tablet_id: i64) -> Error {
    Error::new(
        StatusCode::Cancelled,
        format!(
            "tablet {tablet_id} is being compacted or cloned on this backend; the clone cannot \
             start now (retry later)"
        ),
    )
}

/// Checks that the tablet a writer writes is still the one it was started for: still absent
/// (a clone creating it), or the same entry (not dropped, nor dropped and created again).
fn check_dest(inner: &Inner, writer: &CloneWriter) -> Result<()> {
    let tablet_id = writer.tablet_id;
    match (writer.dest, inner.tablets.get(&tablet_id), &writer._claim) {
        (Dest::Absent, None, _) => Ok(()),
        (Dest::Absent, Some(_), _) => Err(Error::internal(format!(
            "tablet {tablet_id} appeared while a clone was creating it"
        ))),
        (_, None, _) => Err(Error::invalid(format!(
            "tablet {tablet_id} was dropped from this backend while it was being cloned; \
             nothing was installed"
        ))),
        (_, Some(entry), Claim::Compacting(flag)) if Arc::ptr_eq(flag, &entry.compacting) => Ok(()),
        (_, Some(_), _) => Err(Error::invalid(format!(
            "tablet {tablet_id} was dropped and created again on this backend while it was \
             being cloned; nothing was installed"
        ))),
    }
}

/// The rowsets (visible or stale) that exactly cover `missing` (each run of consecutive
/// versions by a path of rowsets inside it, the fewest rowsets first).
pub(crate) fn incremental_rowsets(
    meta: &TabletMeta,
    version: i64,
    missing: &[i64],
) -> Result<Vec<RowsetMeta>> {
    let tablet_id = meta.tablet_id;
    let mut want = missing.to_vec();
    want.sort_unstable();
    want.dedup();
    if let Some(bad) = want.iter().find(|v| **v < 0 || **v > version) {
        return Err(Error::invalid(format!(
            "tablet {tablet_id}: missing version {bad} is outside the snapshot's versions \
             [0-{version}]"
        )));
    }
    let mut by_start: BTreeMap<i64, Vec<&RowsetMeta>> = BTreeMap::new();
    for r in meta
        .rowsets
        .iter()
        .chain(meta.stale.iter().map(|s| &s.rowset))
    {
        by_start.entry(r.start_version).or_default().push(r);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < want.len() {
        let mut j = i;
        while j + 1 < want.len() && want[j + 1] == want[j] + 1 {
            j += 1;
        }
        let (a, b) = (want[i], want[j]);
        // Node k is version a + k; a rowset [s, e] inside [a, b] is an edge s -> e + 1.
        let n = j - i + 2;
        let mut best: Vec<Option<(usize, &RowsetMeta)>> = vec![None; n];
        let mut reached = vec![false; n];
        reached[0] = true;
        let mut steps = vec![0usize; n];
        for k in 0..n - 1 {
            if !reached[k] {
                continue;
            }
            let start = a + k as i64;
            for r in by_start.get(&start).into_iter().flatten() {
                if r.end_version > b {
                    continue;
                }
                let to = (r.end_version - a + 1) as usize;
                if !reached[to] || steps[k] + 1 < steps[to] {
                    reached[to] = true;
                    steps[to] = steps[k] + 1;
                    best[to] = Some((k, r));
                }
            }
        }
        if !reached[n - 1] {
            let first = a + reached.iter().rposition(|r| *r).unwrap_or(0) as i64;
            let why = match meta
                .rowsets
                .iter()
                .find(|r| r.start_version <= first && first <= r.end_version)
            {
                Some(r) if !r.is_singleton() => format!(
                    "compaction merged it into the rowset {} and the single-version rowsets were \
                     removed",
                    r.versions()
                ),
                _ => "no single-version rowset of it is left".to_string(),
            };
            return Err(Error::new(
                StatusCode::VersionsCompacted,
                format!(
                    "tablet {tablet_id}: this replica cannot provide missing version {first} for \
                     an incremental clone: {why}; a full clone is needed"
                ),
            ));
        }
        let mut path = Vec::new();
        let mut at = n - 1;
        while at > 0 {
            let Some((from, r)) = best[at] else {
                return Err(Error::internal(format!(
                    "tablet {tablet_id}: broken clone path at version {}",
                    a + at as i64
                )));
            };
            path.push(r.clone());
            at = from;
        }
        path.reverse();
        out.extend(path);
        i = j + 1;
    }
    Ok(out)
}

/// Checks the rowsets a clone installs: versions inside `[0, snapshot_version]`, no overlap,
/// distinct ids, and for a full clone an exact cover of `[0, snapshot_version]`.
fn check_clone_rowsets(
    tablet_id: i64,
    rowsets: &[RowsetMeta],
    snapshot_version: i64,
    full: bool,
) -> Result<()> {
    let bad = |why: String| Error::invalid(format!("clone of tablet {tablet_id}: {why}"));
    if snapshot_version < 0 {
        return Err(bad(format!("{snapshot_version} is not a version")));
    }
    let mut ids = HashSet::new();
    for r in rowsets {
        if r.start_version < 0
            || r.start_version > r.end_version
            || r.end_version > snapshot_version
        {
            return Err(bad(format!(
                "rowset {} {} is not inside the snapshot's versions [0-{snapshot_version}]",
                r.rowset_id,
                r.versions()
            )));
        }
        if !ids.insert(r.rowset_id.as_str()) {
            return Err(bad(format!("rowset {} is given twice", r.rowset_id)));
        }
    }
    let mut sorted: Vec<&RowsetMeta> = rowsets.iter().collect();
    sorted.sort_by_key(|r| (r.start_version, r.end_version));
    if let Some(w) = sorted
        .windows(2)
        .find(|w| w[1].start_version <= w[0].end_version)
    {
        return Err(bad(format!(
            "rowsets {} and {} overlap",
            w[0].versions(),
            w[1].versions()
        )));
    }
    if full && contiguous_version(rowsets) != snapshot_version {
        return Err(bad(format!(
            "a full clone's rowsets must cover [0-{snapshot_version}] without a hole; they reach \
             version {} from 0",
            contiguous_version(rowsets)
        )));
    }
    Ok(())
}

impl StorageEngine {
    /// A snapshot of a tablet for a clone, taken on the source replica at `version` (at most
    /// this replica's version: otherwise it is not a valid source).
    ///
    /// - `missing = Some(versions)` (incremental): the visible or stale rowsets that cover
    ///   exactly those versions and nothing else: single-version rowsets normally, a merged
    ///   rowset `[a, b]` only when every version in it is missing. A version that cannot be
    ///   covered so fails with [`StatusCode::VersionsCompacted`] naming the first one (the
    ///   caller falls back to a full clone).
    /// - `missing = None` (full): the rowsets on the version path `[0, version]` (as
    ///   [`StorageEngine::read_at`] reads it).
    ///
    /// The rowsets are pinned like a read's: the stale sweeper leaves their files while the
    /// snapshot lives.
    pub fn clone_snapshot(
        &self,
        tablet_id: i64,
        version: i64,
        missing: Option<&[i64]>,
    ) -> Result<CloneSnapshot> {
        let (snapshot, dir) = {
            let mut guard = self.lock();
            let inner = guard.as_mut().ok_or_else(closed)?;
            let entry = inner
                .tablets
                .get_mut(&tablet_id)
                .ok_or_else(|| no_tablet(tablet_id))?;
            usable(&entry.meta)?;
            let meta = &entry.meta;
            if version < 0 || version > meta.version {
                return Err(Error::invalid(format!(
                    "tablet {tablet_id} cannot be a clone source at version {version}: this \
                     replica is at version {}",
                    meta.version
                )));
            }
            let rowsets = match missing {
                None => path_at(meta, version)?,
                Some(versions) => incremental_rowsets(meta, version, versions)?,
            };
            let pin = Arc::new(ReadPin {
                rowset_ids: rowsets.iter().map(|r| r.rowset_id.clone()).collect(),
            });
            entry.readers.retain(|w| w.strong_count() > 0);
            entry.readers.push(Arc::downgrade(&pin));
            let snapshot = CloneSnapshot {
                tablet_id,
                schema: meta.schema.clone(),
                version,
                full: missing.is_none(),
                rowsets,
                files: Vec::new(),
                pin,
            };
            (snapshot, inner.roots[entry.root].tablet_dir(tablet_id))
        };
        // The files are pinned: check and measure them without the lock. A damaged file is
        // never sent (the destination also checks what it receives against the rowsets'
        // recorded checksums).
        self.verify_rowsets(tablet_id, &dir, &snapshot.rowsets)?;
        let mut snapshot = snapshot;
        let mut files = Vec::new();
        for r in &snapshot.rowsets {
            for name in &r.files {
                let path = dir.join(name);
                let len = fs::metadata(&path)
                    .map_err(|e| {
                        Error::io(
                            format!(
                                "tablet {tablet_id}: clone snapshot of rowset {} {}: stat {}",
                                r.rowset_id,
                                r.versions(),
                                path.display()
                            ),
                            e,
                        )
                    })?
                    .len();
                files.push(SnapshotFile {
                    rowset_id: r.rowset_id.clone(),
                    name: name.clone(),
                    path,
                    len,
                });
            }
        }
        snapshot.files = files;
        Ok(snapshot)
    }

    /// The versions in `0..=up_to` that no visible rowset of the tablet covers, ascending
    /// (empty when the replica is complete up to there): what an incremental clone asks for.
    /// `None` when the tablet is not here, or is MISSING_DATA (its files are gone): both need
    /// a full clone, which [`StorageEngine::begin_clone`] accepts for them.
    pub fn missing_versions(&self, tablet_id: i64, up_to: i64) -> Result<Option<Vec<i64>>> {
        let guard = self.lock();
        let inner = guard.as_ref().ok_or_else(closed)?;
        Ok(inner
            .tablets
            .get(&tablet_id)
            .filter(|e| e.meta.state == TabletState::Normal)
            .map(|e| e.meta.uncovered_versions(up_to)))
    }

    /// Starts a clone into this backend's replica of `target.tablet_id`.
    ///
    /// - An existing tablet must be replica `target.replica_id` (of the same table and
    ///   partition); the files go into its directory. A MISSING_DATA tablet takes only a full
    ///   clone, which recreates its directory in its root and replaces its metadata.
    /// - An absent tablet takes only a full clone: its directory is created in the root with
    ///   the most available space (a leftover directory without metadata is removed first);
    ///   the metadata is written by [`StorageEngine::finish_clone`].
    ///
    /// The writer holds the tablet's compaction flag (or a claim on the new tablet's id): it
    /// is refused with [`StatusCode::Cancelled`] (retry later) while a compaction or another
    /// clone of the tablet runs, and no compaction starts while it lives.
    ///
    /// A root at its flood stage refuses the clone ([`StatusCode::DiskFull`]);
    /// [`StorageEngine::begin_clone_sized`] counts the bytes the clone will write.
    pub fn begin_clone(&self, target: &CloneTarget, full: bool) -> Result<CloneWriter> {
        self.begin_clone_sized(target, full, 0)
    }

    /// [`StorageEngine::begin_clone`] for a clone that will write about `incoming` bytes: the
    /// flood stage rule counts them as written.
    pub fn begin_clone_sized(
        &self,
        target: &CloneTarget,
        full: bool,
        incoming: u64,
    ) -> Result<CloneWriter> {
        let incoming = i64::try_from(incoming).unwrap_or(i64::MAX);
        let flood = &self.options().flood_stage;
        let refused = |e: Error| {
            Error::new(
                e.code,
                format!("clone of tablet {}: {}", target.tablet_id, e.message),
            )
        };
        let tablet_id = target.tablet_id;
        let guard = self.lock();
        let inner = guard.as_ref().ok_or_else(closed)?;
        let writer = |dest, root, dir, created_dir, schema, claim| CloneWriter {
            tablet_id,
            replica_id: target.replica_id,
            table_id: target.table_id,
            partition_id: target.partition_id,
            schema,
            full,
            dest,
            root,
            dir,
            created_dir,
            local_ids: BTreeMap::new(),
            files: Vec::new(),
            current: None,
            bytes_written: 0,
            installed: false,
            _claim: claim,
        };
        if let Some(entry) = inner.tablets.get(&tablet_id) {
            let m = &entry.meta;
            if m.replica_id != target.replica_id {
                return Err(Error::invalid(format!(
                    "tablet {tablet_id} exists on this backend as replica {}, not replica {}; \
                     the clone is refused",
                    m.replica_id, target.replica_id
                )));
            }
            if m.table_id != target.table_id || m.partition_id != target.partition_id {
                return Err(Error::invalid(format!(
                    "tablet {tablet_id} on this backend belongs to table {} partition {}, not \
                     table {} partition {}; the clone is refused",
                    m.table_id, m.partition_id, target.table_id, target.partition_id
                )));
            }
            let dest = match m.state {
                TabletState::Normal => Dest::Existing,
                // A damaged replica is replaced whole.
                TabletState::MissingData | TabletState::Corrupted => Dest::Rebuild,
            };
            if dest == Dest::Rebuild && !full {
                return Err(Error::invalid(format!(
                    "tablet {tablet_id}'s data directory is missing on this backend: only a full \
                     clone can rebuild it"
                )));
            }
            let root = &inner.roots[entry.root];
            root.check_flood_stage(flood, incoming).map_err(refused)?;
            if entry.compacting.swap(true, Ordering::SeqCst) {
                return Err(busy(tablet_id));
            }
            let claim = Claim::Compacting(entry.compacting.clone());
            let dir = root.tablet_dir(tablet_id);
            let mut created_dir = false;
            if dest == Dest::Rebuild && !dir.is_dir() {
                if let Err(e) = fs::create_dir_all(&dir) {
                    let _ = fs::remove_dir(&dir);
                    return Err(write_error(
                        &root.path,
                        format!("create tablet directory {}", dir.display()),
                        e,
                    ));
                }
                created_dir = true;
            }
            return Ok(writer(
                dest,
                entry.root,
                dir,
                created_dir,
                m.schema.clone(),
                claim,
            ));
        }
        if !full {
            return Err(Error::invalid(format!(
                "tablet {tablet_id} does not exist on this backend: an incremental clone needs \
                 the tablet (a full clone creates it)"
            )));
        }
        inner.refuse_corrupt(tablet_id)?;
        if !self
            .cloning
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tablet_id)
        {
            return Err(busy(tablet_id));
        }
        let claim = Claim::Incoming(self.cloning.clone(), tablet_id);
        let root = inner.emptiest_root()?;
        let root_path = &inner.roots[root].path;
        inner.roots[root]
            .check_flood_stage(flood, incoming)
            .map_err(refused)?;
        let dir = inner.roots[root].tablet_dir(tablet_id);
        if dir.exists() {
            tracing::warn!(
                dir = %dir.display(),
                "removing a leftover tablet directory before a clone"
            );
            fs::remove_dir_all(&dir)
                .map_err(|e| Error::io(format!("remove leftover {}", dir.display()), e))?;
        }
        if let Err(e) = fs::create_dir_all(&dir) {
            let _ = fs::remove_dir(&dir);
            return Err(write_error(
                root_path,
                format!("create tablet directory {}", dir.display()),
                e,
            ));
        }
        Ok(writer(
            Dest::Absent,
            root,
            dir,
            true,
            target.schema.clone(),
            claim,
        ))
    }

    /// Installs a clone's rowsets (the snapshot's, with the source's rowset ids and file
    /// names) taken at `snapshot_version`. Every file of every rowset must have been received
    /// and must be a Parquet file with the tablet's columns holding the rowset's rows;
    /// otherwise nothing is installed (and the writer's files are removed). The rowsets get
    /// fresh local ids and file names and keep their versions, transactions, rows, bytes and
    /// sort order. Then, in one metadata commit:
    ///
    /// - incremental: the rowsets whose versions overlap no visible rowset are added (the
    ///   others, e.g. a version a publish brought meanwhile, are skipped and their files
    ///   removed), and the version is recomputed;
    /// - full into an absent tablet: the tablet is created (NORMAL, these rowsets);
    /// - full into a MISSING_DATA tablet: its rowsets, stale and pending rowsets (whose files
    ///   are gone) are replaced by these, and it is NORMAL again;
    /// - full into an existing tablet: the visible rowsets become these plus the local ones
    ///   starting above `snapshot_version`; the local ones inside `[0, snapshot_version]` turn
    ///   stale (readers pinning them keep working; the sweeper removes them later); a local
    ///   rowset straddling `snapshot_version` fails the clone; the cumulative point is reset.
    ///
    /// Pending rowsets are kept, except those of transactions the clone brought (they would
    /// never be published). Files are durable before the metadata names them.
    pub fn finish_clone(
        &self,
        mut writer: CloneWriter,
        rowsets: Vec<RowsetMeta>,
        snapshot_version: i64,
    ) -> Result<CloneOutcome> {
        let tablet_id = writer.tablet_id;
        if let Some(cur) = &writer.current {
            return Err(Error::invalid(format!(
                "clone of tablet {tablet_id}: file {} of rowset {} was not finished; nothing was \
                 installed",
                cur.name, cur.rowset_id
            )));
        }
        check_clone_rowsets(tablet_id, &rowsets, snapshot_version, writer.full)?;
        if let Claim::Incoming(set, _) = &writer._claim
            && !Arc::ptr_eq(set, &self.cloning)
        {
            return Err(Error::invalid(format!(
                "clone of tablet {tablet_id}: the writer was started by another storage engine"
            )));
        }
        {
            let guard = self.lock();
            check_dest(guard.as_ref().ok_or_else(closed)?, &writer)?;
        }
        // Local rowsets, and a check of every file before anything is installed.
        let schema = arrow_schema(&writer.schema);
        let mut local = Vec::with_capacity(rowsets.len());
        let mut named: HashSet<&str> = HashSet::new();
        for r in &rowsets {
            let mut files = Vec::with_capacity(r.files.len());
            let mut checksums = Vec::with_capacity(r.files.len());
            let mut rows = 0i64;
            let mut bytes = 0u64;
            for (name, recorded) in r.files_with_checksums() {
                let Some(f) = writer
                    .files
                    .iter()
                    .find(|f| f.rowset_id == r.rowset_id && f.name == *name)
                else {
                    return Err(Error::invalid(format!(
                        "clone of tablet {tablet_id}: file {name} of rowset {} {} was not \
                         received; nothing was installed",
                        r.rowset_id,
                        r.versions()
                    )));
                };
                // The source's copy must be the bytes it recorded when it wrote the file: a
                // damaged source file is never installed (whatever CRC it sent along).
                if let Some(want) = recorded
                    && (want.len != f.len || want.crc32 != f.crc32)
                {
                    return Err(Error::new(
                        StatusCode::DataCorrupted,
                        format!(
                            "clone of tablet {tablet_id}: file {name} of rowset {} {} as sent \
                             ({} bytes, CRC32 {:08x}) is not what the source recorded when it \
                             wrote it ({} bytes, CRC32 {:08x}): the source's copy is damaged; \
                             nothing was installed",
                            r.rowset_id,
                            r.versions(),
                            f.len,
                            f.crc32,
                            want.len,
                            want.crc32
                        ),
                    ));
                }
                let path = writer.dir.join(&f.local);
                let file = File::open(&path).map_err(|e| {
                    Error::io(
                        format!("clone of tablet {tablet_id}: open {}", path.display()),
                        e,
                    )
                })?;
                rows += check_parquet_file(&file, &schema).map_err(|why| {
                    Error::invalid(format!(
                        "clone of tablet {tablet_id}: file {name} of rowset {} {}: {why}; \
                         nothing was installed",
                        r.rowset_id,
                        r.versions()
                    ))
                })?;
                bytes += f.len;
                files.push(f.local.clone());
                checksums.push(FileChecksum {
                    len: f.len,
                    crc32: f.crc32,
                });
                named.insert(f.local.as_str());
            }
            if rows != r.rows {
                return Err(Error::invalid(format!(
                    "clone of tablet {tablet_id}: rowset {} {} should hold {} rows but its files \
                     hold {rows}; nothing was installed",
                    r.rowset_id,
                    r.versions(),
                    r.rows
                )));
            }
            let rowset_id = writer
                .local_ids
                .get(&r.rowset_id)
                .cloned()
                .unwrap_or_else(|| new_rowset_id("cl"));
            local.push((
                RowsetMeta {
                    rowset_id,
                    files,
                    checksums,
                    ..r.clone()
                },
                bytes,
            ));
        }
        // Received files no rowset names: not installed.
        let mut unused: Vec<String> = writer
            .files
            .iter()
            .filter(|f| !named.contains(f.local.as_str()))
            .map(|f| f.local.clone())
            .collect();

        let now = common::clock::now_ms();
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed)?;
        inner.heal();
        let mut skipped: Vec<RowsetMeta> = Vec::new();
        let mut dropped: Vec<RowsetMeta> = Vec::new();
        let mut added = 0usize;
        let mut bytes = 0u64;
        let (mut meta, root) = match writer.dest {
            Dest::Absent => {
                check_dest(inner, &writer)?;
                added = local.len();
                bytes = local.iter().map(|(_, b)| b).sum();
                let meta = TabletMeta {
                    tablet_id,
                    replica_id: writer.replica_id,
                    table_id: writer.table_id,
                    partition_id: writer.partition_id,
                    schema: writer.schema.clone(),
                    version: 0,
                    create_time_ms: now,
                    state: TabletState::Normal,
                    rowsets: local.into_iter().map(|(r, _)| r).collect(),
                    pending: Vec::new(),
                    stale: Vec::new(),
                    cumulative_point: 0,
                    last_base_compaction_ms: 0,
                };
                (meta, writer.root)
            }
            Dest::Existing | Dest::Rebuild => {
                check_dest(inner, &writer)?;
                let entry = inner
                    .tablets
                    .get(&tablet_id)
                    .ok_or_else(|| no_tablet(tablet_id))?;
                let mut meta = entry.meta.clone();
                if writer.dest == Dest::Rebuild {
                    dropped.append(&mut meta.rowsets);
                    dropped.extend(meta.stale.drain(..).map(|s| s.rowset));
                    dropped.append(&mut meta.pending);
                    added = local.len();
                    bytes = local.iter().map(|(_, b)| b).sum();
                    meta.rowsets = local.into_iter().map(|(r, _)| r).collect();
                    meta.cumulative_point = 0;
                    meta.state = TabletState::Normal;
                } else if writer.full {
                    if let Some(r) = meta.rowsets.iter().find(|r| {
                        r.start_version <= snapshot_version && snapshot_version < r.end_version
                    }) {
                        return Err(Error::invalid(format!(
                            "clone of tablet {tablet_id}: clone version conflict with local \
                             version {}: the snapshot's version {snapshot_version} falls inside \
                             it; nothing was installed",
                            r.versions()
                        )));
                    }
                    let (old, kept): (Vec<RowsetMeta>, Vec<RowsetMeta>) = meta
                        .rowsets
                        .drain(..)
                        .partition(|r| r.end_version <= snapshot_version);
                    meta.stale.extend(old.into_iter().map(|rowset| StaleRowset {
                        rowset,
                        stale_since_ms: now,
                    }));
                    added = local.len();
                    bytes = local.iter().map(|(_, b)| b).sum();
                    meta.rowsets = local.into_iter().map(|(r, _)| r).collect();
                    meta.rowsets.extend(kept);
                    meta.cumulative_point = 0;
                } else {
                    for (r, b) in local {
                        let overlaps = meta.rowsets.iter().any(|v| {
                            v.start_version <= r.end_version && r.start_version <= v.end_version
                        });
                        if overlaps {
                            skipped.push(r);
                        } else {
                            meta.rowsets.push(r);
                            added += 1;
                            bytes += b;
                        }
                    }
                }
                (meta, entry.root)
            }
        };
        meta.rowsets
            .sort_by_key(|r| (r.start_version, r.end_version));
        meta.version = meta.contiguous_version();
        // A pending rowset of a transaction whose version the clone brought is a duplicate.
        let published: HashSet<i64> = meta
            .rowsets
            .iter()
            .map(|r| r.txn_id)
            .filter(|t| *t > 0)
            .collect();
        let (dup, pending): (Vec<RowsetMeta>, Vec<RowsetMeta>) = meta
            .pending
            .drain(..)
            .partition(|p| published.contains(&p.txn_id));
        meta.pending = pending;
        dropped.extend(dup);
        inner.roots[root].put(&meta)?;
        writer.installed = true;
        let outcome = CloneOutcome {
            version: meta.version,
            rows: meta.visible_rows(),
            bytes,
            full: writer.full,
            rowsets_added: added,
        };
        match inner.tablets.get_mut(&tablet_id) {
            Some(entry) => entry.meta = meta,
            None => {
                inner.tablets.insert(tablet_id, Entry::new(meta, root));
            }
        }
        inner.data_used[root] = None;
        drop(guard);
        tracing::info!(
            tablet_id,
            full = outcome.full,
            version = outcome.version,
            rowsets = outcome.rowsets_added,
            bytes = outcome.bytes,
            "clone installed"
        );
        remove_files(&writer.dir, &skipped);
        remove_files(&writer.dir, &dropped);
        for name in unused.drain(..) {
            let _ = fs::remove_file(writer.dir.join(name));
        }
        Ok(outcome)
    }
}
