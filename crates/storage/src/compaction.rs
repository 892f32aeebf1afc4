//! Compaction: merging adjacent visible rowsets of a tablet into one rowset covering their
//! versions, and sweeping the stale rowsets a compaction replaced.
//!
//! Two kinds, as in StarRocks:
//!
//! - **Cumulative** compaction merges the rowsets at or above the tablet's *cumulative point*
//!   (the recent, small ones) once there are at least
//!   `min_cumulative_compaction_num_singleton_deltas` singleton deltas (`[v, v]`, one load
//!   each), taking at most `max_cumulative_compaction_num_singleton_deltas` rowsets. Its output
//!   stays above the point (to be merged again with later loads) until it is *promoted*: at
//!   least [`CompactionPolicy::promotion_bytes`] large, it moves below the point. A large load's
//!   rowset at the point is promoted without being rewritten.
//! - **Base** compaction merges the base rowset `[0, x]` with every rowset below the point, when
//!   there are at least `min_base_compaction_num_singleton_deltas` of them, or at least one and
//!   the last base compaction is older than `base_compaction_interval_seconds_since_last_operation`.
//!
//! A compaction reads the inputs' Arrow batches back and writes them as one new Parquet file
//! (temporary name, fsync, rename, directory fsync), then commits the tablet's metadata in one
//! store transaction: the output becomes visible and the inputs *stale*. A crash before that
//! commit leaves the inputs as they were and the output a file nobody names (removed at the next
//! open). Stale rowsets keep older versions readable ([`StorageEngine::read_at`] walks through
//! them) until [`StorageEngine::sweep_stale`] removes those older than
//! `tablet_rowset_stale_sweep_time_sec` that no reader pins.
//!
//! Only the contiguous part of a tablet is compacted: rowsets published above a hole (a missed
//! load, see [`StorageEngine::publish`]) wait until a clone fills it. A compaction and a clone
//! of one tablet never run together: both hold the tablet's "compacting" flag.
//!
//! Row order: the output is sorted by the key columns with a k-way merge of sorted runs. Inputs
//! that an earlier compaction sorted are streamed (one batch each in memory); the unsorted ones
//! (a load keeps its rows' arrival order) are sorted together in memory, when their files total
//! at most [`SORT_IN_MEMORY_MAX_BYTES`]. Ties go to the earlier run and the in-memory sort is
//! stable, so merging a sorted rowset with newer loads keeps equal keys in version order. Above
//! that size (or without key columns) the rows are copied in version order and the output is
//! marked unsorted ([`RowsetMeta::sorted`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow::array::ArrayRef;
use arrow::array::RecordBatch;
use arrow::array::UInt64Array;
use arrow::compute::concat_batches;
use arrow::compute::interleave_record_batch;
use arrow::compute::take_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::row::RowConverter;
use arrow::row::Rows;
use arrow::row::SortField;
use common::Error;
use common::Result;
use common::StatusCode;
use common::schema::TableSchema;

use crate::engine::StorageEngine;
use crate::engine::closed;
use crate::engine::no_tablet;
use crate::meta::StaleRowset;
use crate::meta::TabletMeta;
use crate::meta::TabletState;
use crate::rowset::RowsetBatches;
use crate::rowset::RowsetMeta;
use crate::rowset::RowsetWriter;
use crate::rowset::remove_files;
use crate::types::arrow_schema;

/// Unsorted inputs whose files total at most this many bytes are sorted in memory; above it a
/// compaction keeps the rows' order.
pub const SORT_IN_MEMORY_MAX_BYTES: i64 = 64 * 1024 * 1024;
/// Rows per output batch of the merge.
const OUTPUT_BATCH_ROWS: usize = 8192;

/// Which compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompactionKind {
    /// Merges the recent rowsets above the cumulative point.
    Cumulative,
    /// Merges the base rowset with the rowsets below the cumulative point.
    Base,
}

impl CompactionKind {
    /// `cumulative` or `base`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompactionKind::Cumulative => "cumulative",
            CompactionKind::Base => "base",
        }
    }
}

impl fmt::Display for CompactionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When compactions are due and what they take (be.conf's compaction keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// Singleton deltas above the cumulative point a cumulative compaction waits for
    /// (`min_cumulative_compaction_num_singleton_deltas`).
    pub min_cumulative_deltas: usize,
    /// Rowsets one cumulative compaction merges at most
    /// (`max_cumulative_compaction_num_singleton_deltas`).
    pub max_cumulative_deltas: usize,
    /// Rowsets between the base rowset and the cumulative point that make a base compaction
    /// due (`min_base_compaction_num_singleton_deltas`).
    pub min_base_deltas: usize,
    /// With at least one such rowset, a base compaction is also due this long after the last
    /// one (`base_compaction_interval_seconds_since_last_operation`).
    pub base_interval: Duration,
    /// A cumulative rowset moves below the cumulative point at this size at least...
    pub promotion_min_bytes: i64,
    /// ... or at `promotion_percent` of the base rowset's size when that is larger...
    pub promotion_percent: i64,
    /// ... but never above this.
    pub promotion_max_bytes: i64,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        CompactionPolicy {
            min_cumulative_deltas: 5,
            max_cumulative_deltas: 1000,
            min_base_deltas: 5,
            base_interval: Duration::from_secs(86_400),
            promotion_min_bytes: 64 * 1024 * 1024,
            promotion_percent: 5,
            promotion_max_bytes: 1024 * 1024 * 1024,
        }
    }
}

impl CompactionPolicy {
    /// The size at which a cumulative rowset is promoted below the cumulative point.
    pub fn promotion_bytes(&self, meta: &TabletMeta) -> i64 {
        let base = meta.rowsets.first().map(|r| r.bytes).unwrap_or(0);
        let by_ratio = base.saturating_mul(self.promotion_percent) / 100;
        by_ratio
            .max(self.promotion_min_bytes)
            .min(self.promotion_max_bytes.max(self.promotion_min_bytes))
    }

    /// The cumulative point in effect: the stored one, moved past the base rowset, past a
    /// rowset it falls inside, and past promoted (large) rowsets at the point.
    pub fn cumulative_point(&self, meta: &TabletMeta) -> i64 {
        let base_end = meta.rowsets.first().map(|r| r.end_version).unwrap_or(0);
        let mut cp = meta.cumulative_point.max(base_end + 1);
        let promotion = self.promotion_bytes(meta);
        for r in &meta.rowsets {
            if r.end_version > meta.version {
                // Above a hole: not the compactions' until the hole is filled.
                break;
            }
            // A rowset the point falls inside, or a promoted one at the point: step past it.
            let inside = r.start_version < cp && r.end_version >= cp;
            let promoted = r.start_version == cp && r.bytes >= promotion;
            if inside || promoted {
                cp = r.end_version + 1;
            } else if r.start_version >= cp {
                break;
            }
        }
        cp
    }

    /// What a compaction of `kind` would merge now, if one is due: the input rowsets (adjacent,
    /// in version order) and the cumulative point to store with the output. Only rowsets of
    /// the contiguous part (`end_version <= meta.version`) are ever merged: those above a hole
    /// wait for a clone to fill it.
    pub(crate) fn plan(
        &self,
        meta: &TabletMeta,
        kind: CompactionKind,
        now_ms: i64,
    ) -> Option<Plan> {
        let cp = self.cumulative_point(meta);
        match kind {
            CompactionKind::Cumulative => {
                let candidates: Vec<&RowsetMeta> = meta
                    .rowsets
                    .iter()
                    .filter(|r| r.start_version >= cp && r.end_version <= meta.version)
                    .collect();
                let singletons = candidates.iter().filter(|r| r.is_singleton()).count();
                if singletons < self.min_cumulative_deltas.max(1) || candidates.len() < 2 {
                    return None;
                }
                let take = candidates.len().min(self.max_cumulative_deltas.max(2));
                let inputs: Vec<RowsetMeta> =
                    candidates[..take].iter().map(|r| (*r).clone()).collect();
                let bytes: i64 = inputs.iter().map(|r| r.bytes).sum();
                let (first, last) = (inputs.first()?, inputs.last()?);
                let cumulative_point = if bytes >= self.promotion_bytes(meta) {
                    last.end_version + 1
                } else {
                    first.start_version
                };
                Some(Plan {
                    inputs,
                    cumulative_point,
                })
            }
            CompactionKind::Base => {
                let inputs: Vec<RowsetMeta> = meta
                    .rowsets
                    .iter()
                    .filter(|r| r.end_version < cp && r.end_version <= meta.version)
                    .cloned()
                    .collect();
                let deltas = inputs.len().saturating_sub(1);
                if deltas == 0 {
                    return None;
                }
                let last = if meta.last_base_compaction_ms > 0 {
                    meta.last_base_compaction_ms
                } else {
                    meta.create_time_ms
                };
                let interval = i64::try_from(self.base_interval.as_millis()).unwrap_or(i64::MAX);
                let due = deltas >= self.min_base_deltas.max(1)
                    || now_ms.saturating_sub(last) >= interval;
                due.then_some(Plan {
                    inputs,
                    cumulative_point: cp,
                })
            }
        }
    }
}

/// What a compaction will merge.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    inputs: Vec<RowsetMeta>,
    cumulative_point: i64,
}

/// Clears a tablet's "compacting" flag when the compaction ends, however it ends.
struct Busy(Arc<AtomicBool>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// A compaction picked for a tablet: [`CompactionTask::run`] writes the merged file (no engine
/// lock held), [`StorageEngine::commit_compaction`] makes it visible. While the task (or its
/// output) lives no other compaction of the tablet starts.
pub struct CompactionTask {
    tablet_id: i64,
    partition_id: i64,
    kind: CompactionKind,
    dir: PathBuf,
    schema: TableSchema,
    plan: Plan,
    _busy: Busy,
}

impl CompactionTask {
    /// The tablet.
    pub fn tablet_id(&self) -> i64 {
        self.tablet_id
    }

    /// Which compaction.
    pub fn kind(&self) -> CompactionKind {
        self.kind
    }

    /// The rowsets it merges, in version order.
    pub fn inputs(&self) -> &[RowsetMeta] {
        &self.plan.inputs
    }

    /// Reads the inputs and writes the merged rowset's file (temporary name, fsync, rename).
    /// Blocking; takes no engine lock.
    pub fn run(self) -> Result<CompactionOutput> {
        let (Some(first), Some(last)) = (self.plan.inputs.first(), self.plan.inputs.last()) else {
            return Err(Error::internal(format!(
                "tablet {}: a compaction without inputs",
                self.tablet_id
            )));
        };
        let (start, end) = (first.start_version, last.end_version);
        let mut writer = RowsetWriter::for_compaction(
            self.tablet_id,
            self.partition_id,
            self.dir.clone(),
            &self.schema,
        );
        let sorted = merge(&self, &mut writer)?;
        let mut rowset = writer.finish()?;
        rowset.start_version = start;
        rowset.end_version = end;
        rowset.sorted = sorted;
        let expected: i64 = self.plan.inputs.iter().map(|r| r.rows).sum();
        let rows = rowset.rows;
        let out = CompactionOutput {
            task: self,
            rowset,
            committed: false,
        };
        if rows != expected {
            // Dropping `out` removes the file.
            return Err(Error::internal(format!(
                "tablet {}: the {} compaction of versions [{start}-{end}] wrote {rows} rows but \
                 its inputs hold {expected}; the compaction is abandoned",
                out.task.tablet_id, out.task.kind
            )));
        }
        Ok(out)
    }
}

/// A merged rowset written but not yet committed. Dropped uncommitted, its file is removed.
pub struct CompactionOutput {
    task: CompactionTask,
    rowset: RowsetMeta,
    committed: bool,
}

impl CompactionOutput {
    /// The merged rowset.
    pub fn rowset(&self) -> &RowsetMeta {
        &self.rowset
    }
}

impl Drop for CompactionOutput {
    fn drop(&mut self) {
        if !self.committed {
            remove_files(&self.task.dir, std::slice::from_ref(&self.rowset));
        }
    }
}

/// What a committed compaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactionResult {
    /// The tablet.
    pub tablet_id: i64,
    /// Which compaction.
    pub kind: CompactionKind,
    /// The merged rowset's versions.
    pub start_version: i64,
    /// The merged rowset's versions.
    pub end_version: i64,
    /// How many rowsets it merged.
    pub input_rowsets: usize,
    /// Rows in the merged rowset.
    pub rows: i64,
    /// Bytes of its file.
    pub bytes: i64,
    /// Whether its rows are sorted by the key columns.
    pub sorted: bool,
    /// The tablet's version count after.
    pub version_count: usize,
}

impl StorageEngine {
    /// Tablets a compaction of `kind` is due for (and not running on), the most rowsets to
    /// merge first.
    pub fn compaction_candidates(
        &self,
        kind: CompactionKind,
        policy: &CompactionPolicy,
    ) -> Vec<i64> {
        let now = common::clock::now_ms();
        let guard = self.lock();
        let Some(inner) = guard.as_ref() else {
            return Vec::new();
        };
        // A compaction writes its output before its inputs can go: roots at their flood stage
        // are left alone until space is freed.
        let flooded: Vec<bool> = inner
            .roots
            .iter()
            .map(|r| {
                r.check_flood_stage(&self.options().flood_stage, 0)
                    .inspect_err(|e| tracing::debug!("no compaction: {e}"))
                    .is_err()
            })
            .collect();
        let mut due: Vec<(usize, i64)> = inner
            .tablets
            .values()
            .filter(|e| e.meta.state == TabletState::Normal)
            .filter(|e| !flooded.get(e.root).copied().unwrap_or(false))
            .filter(|e| !e.compacting.load(Ordering::SeqCst))
            .filter_map(|e| {
                policy
                    .plan(&e.meta, kind, now)
                    .map(|p| (p.inputs.len(), e.meta.tablet_id))
            })
            .collect();
        due.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        due.into_iter().map(|(_, id)| id).collect()
    }

    /// Picks a compaction of `kind` for a tablet if one is due and none runs on it.
    pub fn prepare_compaction(
        &self,
        tablet_id: i64,
        kind: CompactionKind,
        policy: &CompactionPolicy,
    ) -> Result<Option<CompactionTask>> {
        let guard = self.lock();
        let inner = guard.as_ref().ok_or_else(closed)?;
        let entry = inner
            .tablets
            .get(&tablet_id)
            .ok_or_else(|| no_tablet(tablet_id))?;
        if entry.meta.state != TabletState::Normal {
            return Ok(None);
        }
        let Some(plan) = policy.plan(&entry.meta, kind, common::clock::now_ms()) else {
            return Ok(None);
        };
        let incoming: i64 = plan.inputs.iter().map(|r| r.bytes).sum();
        inner.roots[entry.root]
            .check_flood_stage(&self.options().flood_stage, incoming)
            .map_err(|e| {
                Error::new(
                    e.code,
                    format!("tablet {tablet_id}: no {kind} compaction: {}", e.message),
                )
            })?;
        if entry.compacting.swap(true, Ordering::SeqCst) {
            return Ok(None);
        }
        Ok(Some(CompactionTask {
            tablet_id,
            partition_id: entry.meta.partition_id,
            kind,
            dir: inner.roots[entry.root].tablet_dir(tablet_id),
            schema: entry.meta.schema.clone(),
            plan,
            _busy: Busy(entry.compacting.clone()),
        }))
    }

    /// Commits a merged rowset in one metadata transaction: it becomes visible and its inputs
    /// stale. Refused (and the file removed) when the inputs are no longer the tablet's visible
    /// rowsets (the tablet was dropped or its rowsets replaced meanwhile).
    pub fn commit_compaction(&self, mut out: CompactionOutput) -> Result<CompactionResult> {
        let tablet_id = out.task.tablet_id;
        let kind = out.task.kind;
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed)?;
        inner.heal();
        let entry = inner
            .tablets
            .get_mut(&tablet_id)
            .ok_or_else(|| no_tablet(tablet_id))?;
        let inputs = &out.task.plan.inputs;
        let missing: Vec<String> = inputs
            .iter()
            .filter(|i| {
                !entry
                    .meta
                    .rowsets
                    .iter()
                    .any(|r| r.rowset_id == i.rowset_id)
            })
            .map(|i| format!("{} {}", i.rowset_id, i.versions()))
            .collect();
        if missing.is_empty() && out.rowset.end_version > entry.meta.version {
            return Err(Error::internal(format!(
                "tablet {tablet_id}: the {kind} compaction of versions {} reaches above the \
                 replica's version {}",
                out.rowset.versions(),
                entry.meta.version
            )));
        }
        if !missing.is_empty() {
            return Err(Error::new(
                StatusCode::TxnStateInvalid,
                format!(
                    "tablet {tablet_id}: the {kind} compaction of versions {} is abandoned: \
                     rowsets it merged are no longer visible ({})",
                    out.rowset.versions(),
                    missing.join(", ")
                ),
            ));
        }
        let now = common::clock::now_ms();
        let mut meta = entry.meta.clone();
        meta.rowsets
            .retain(|r| !inputs.iter().any(|i| i.rowset_id == r.rowset_id));
        meta.rowsets.push(out.rowset.clone());
        meta.rowsets
            .sort_by_key(|r| (r.start_version, r.end_version));
        meta.stale.extend(inputs.iter().map(|r| StaleRowset {
            rowset: r.clone(),
            stale_since_ms: now,
        }));
        match kind {
            CompactionKind::Cumulative => meta.cumulative_point = out.task.plan.cumulative_point,
            CompactionKind::Base => {
                meta.cumulative_point = meta
                    .cumulative_point
                    .max(out.task.plan.cumulative_point)
                    .max(out.rowset.end_version + 1);
                meta.last_base_compaction_ms = now;
            }
        }
        inner.roots[entry.root].put(&meta)?;
        let version_count = meta.version_count();
        entry.meta = meta;
        inner.data_used[entry.root] = None;
        out.committed = true;
        let r = &out.rowset;
        Ok(CompactionResult {
            tablet_id,
            kind,
            start_version: r.start_version,
            end_version: r.end_version,
            input_rowsets: inputs.len(),
            rows: r.rows,
            bytes: r.bytes,
            sorted: r.sorted,
            version_count,
        })
    }

    /// Runs a compaction of `kind` on a tablet if one is due: prepare, merge (without the
    /// engine lock), commit. `None` when none was due or one is already running. Blocking.
    pub fn compact(
        &self,
        tablet_id: i64,
        kind: CompactionKind,
        policy: &CompactionPolicy,
    ) -> Result<Option<CompactionResult>> {
        let Some(task) = self.prepare_compaction(tablet_id, kind, policy)? else {
            return Ok(None);
        };
        // A damaged input must not be merged into a new file with a fresh, valid checksum.
        self.verify_rowsets(tablet_id, &task.dir, &task.plan.inputs)?;
        let out = task.run()?;
        self.commit_compaction(out).map(Some)
    }

    /// Removes the stale rowsets that became stale at least `max_age` ago and that no reader
    /// pins: their metadata first (one commit per tablet), then their files. Returns how many
    /// rowsets went.
    pub fn sweep_stale(&self, max_age: Duration) -> Result<usize> {
        let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        let now = common::clock::now_ms();
        let mut to_remove: Vec<(PathBuf, Vec<RowsetMeta>)> = Vec::new();
        {
            let mut guard = self.lock();
            let inner = guard.as_mut().ok_or_else(closed)?;
            inner.heal();
            for (tablet_id, entry) in inner.tablets.iter_mut() {
                entry.readers.retain(|w| w.strong_count() > 0);
                if entry.meta.stale.is_empty() {
                    continue;
                }
                let pinned: std::collections::HashSet<String> = entry
                    .readers
                    .iter()
                    .filter_map(|w| w.upgrade())
                    .flat_map(|p| p.rowset_ids.clone())
                    .collect();
                let expired = |s: &StaleRowset| {
                    now.saturating_sub(s.stale_since_ms) >= max_age_ms
                        && !pinned.contains(&s.rowset.rowset_id)
                };
                if !entry.meta.stale.iter().any(expired) {
                    continue;
                }
                let mut meta = entry.meta.clone();
                let (gone, kept): (Vec<StaleRowset>, Vec<StaleRowset>) =
                    meta.stale.into_iter().partition(expired);
                meta.stale = kept;
                if let Err(e) = inner.roots[entry.root].put(&meta) {
                    tracing::warn!(tablet_id, "cannot sweep stale rowsets: {e}");
                    continue;
                }
                entry.meta = meta;
                inner.data_used[entry.root] = None;
                to_remove.push((
                    inner.roots[entry.root].tablet_dir(*tablet_id),
                    gone.into_iter().map(|s| s.rowset).collect(),
                ));
            }
        }
        let mut n = 0;
        for (dir, rowsets) in to_remove {
            remove_files(&dir, &rowsets);
            n += rowsets.len();
        }
        Ok(n)
    }
}

fn arrow_err(tablet_id: i64, e: ArrowError) -> Error {
    Error::new(
        StatusCode::Io,
        format!("tablet {tablet_id}: compaction cannot merge the rows: {e}"),
    )
}

/// Where a sorted run's batches come from.
enum Source {
    Files(RowsetBatches),
    Memory(std::vec::IntoIter<RecordBatch>),
}

impl Iterator for Source {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        match self {
            Source::Files(f) => f.next(),
            Source::Memory(m) => m.next().map(Ok),
        }
    }
}

/// One sorted run of the merge and its current position.
struct Run {
    source: Source,
    batch: RecordBatch,
    keys: Rows,
    pos: usize,
    /// Index of `batch` among the batches the pending output rows point into.
    slot: usize,
}

struct KeyEncoder {
    tablet_id: i64,
    columns: Vec<usize>,
    converter: RowConverter,
}

impl KeyEncoder {
    fn encode(&self, batch: &RecordBatch) -> Result<Rows> {
        let cols: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        self.converter
            .convert_columns(&cols)
            .map_err(|e| arrow_err(self.tablet_id, e))
    }

    /// The next non-empty batch of a source with its keys.
    fn next(&self, source: &mut Source) -> Result<Option<(RecordBatch, Rows)>> {
        for b in source.by_ref() {
            let b = b?;
            if b.num_rows() > 0 {
                let keys = self.encode(&b)?;
                return Ok(Some((b, keys)));
            }
        }
        Ok(None)
    }
}

/// Writes the task's input rows to `writer`; returns whether they are sorted by the key columns.
fn merge(task: &CompactionTask, writer: &mut RowsetWriter) -> Result<bool> {
    let tablet_id = task.tablet_id;
    let schema: SchemaRef = arrow_schema(&task.schema);
    let batches_of = |r: &RowsetMeta| {
        RowsetBatches::of_files(
            tablet_id,
            schema.clone(),
            r.files.iter().map(|f| task.dir.join(f)).collect(),
        )
    };
    let inputs: Vec<&RowsetMeta> = task
        .plan
        .inputs
        .iter()
        .filter(|r| r.rows > 0 && !r.files.is_empty())
        .collect();
    let key_columns: Vec<usize> = task
        .schema
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_key)
        .map(|(i, _)| i)
        .collect();
    let unsorted_bytes: i64 = inputs.iter().filter(|r| !r.sorted).map(|r| r.bytes).sum();
    if key_columns.is_empty() || unsorted_bytes > SORT_IN_MEMORY_MAX_BYTES {
        // Keep the rows' order: copy the inputs in version order.
        for r in &inputs {
            for b in batches_of(r) {
                writer.write(&b?)?;
            }
        }
        return Ok(false);
    }
    let fields: Vec<SortField> = key_columns
        .iter()
        .map(|&i| SortField::new(schema.field(i).data_type().clone()))
        .collect();
    let keys = KeyEncoder {
        tablet_id,
        converter: RowConverter::new(fields).map_err(|e| arrow_err(tablet_id, e))?,
        columns: key_columns,
    };
    let mut sources: Vec<Source> = inputs
        .iter()
        .filter(|r| r.sorted)
        .map(|r| Source::Files(batches_of(r)))
        .collect();
    // The unsorted inputs, together, sorted in memory (stable: equal keys keep version order).
    let mut unsorted = Vec::new();
    for r in inputs.iter().filter(|r| !r.sorted) {
        for b in batches_of(r) {
            unsorted.push(b?);
        }
    }
    if !unsorted.is_empty() {
        let all = concat_batches(&schema, &unsorted).map_err(|e| arrow_err(tablet_id, e))?;
        drop(unsorted);
        let rows = keys.encode(&all)?;
        let mut order: Vec<u64> = (0..all.num_rows() as u64).collect();
        order.sort_by(|a, b| rows.row(*a as usize).cmp(&rows.row(*b as usize)));
        drop(rows);
        let sorted = take_record_batch(&all, &UInt64Array::from(order))
            .map_err(|e| arrow_err(tablet_id, e))?;
        drop(all);
        let n = sorted.num_rows();
        let chunks: Vec<RecordBatch> = (0..n)
            .step_by(OUTPUT_BATCH_ROWS)
            .map(|o| sorted.slice(o, OUTPUT_BATCH_ROWS.min(n - o)))
            .collect();
        sources.push(Source::Memory(chunks.into_iter()));
    }

    let mut runs: Vec<Run> = Vec::new();
    let mut slots: Vec<RecordBatch> = Vec::new();
    for mut source in sources {
        if let Some((batch, k)) = keys.next(&mut source)? {
            slots.push(batch.clone());
            runs.push(Run {
                source,
                batch,
                keys: k,
                pos: 0,
                slot: slots.len() - 1,
            });
        }
    }
    let mut heap: Vec<usize> = (0..runs.len()).collect();
    for i in (0..heap.len() / 2).rev() {
        sift_down(&mut heap, i, &runs);
    }
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(OUTPUT_BATCH_ROWS);
    while let Some(&top) = heap.first() {
        if heap.len() == 1 {
            // One run left: the rest of it goes out as it is.
            flush(tablet_id, &mut out, &mut slots, &mut runs, &heap, writer)?;
            let run = &mut runs[top];
            let rest = run.batch.num_rows() - run.pos;
            writer.write(&run.batch.slice(run.pos, rest))?;
            for b in run.source.by_ref() {
                writer.write(&b?)?;
            }
            break;
        }
        let run = &mut runs[top];
        out.push((run.slot, run.pos));
        run.pos += 1;
        if run.pos == run.batch.num_rows() {
            match keys.next(&mut run.source)? {
                Some((batch, k)) => {
                    slots.push(batch.clone());
                    run.slot = slots.len() - 1;
                    run.batch = batch;
                    run.keys = k;
                    run.pos = 0;
                }
                None => {
                    if let Some(last) = heap.pop()
                        && !heap.is_empty()
                    {
                        heap[0] = last;
                    }
                }
            }
        }
        sift_down(&mut heap, 0, &runs);
        if out.len() >= OUTPUT_BATCH_ROWS {
            flush(tablet_id, &mut out, &mut slots, &mut runs, &heap, writer)?;
        }
    }
    flush(tablet_id, &mut out, &mut slots, &mut runs, &heap, writer)?;
    Ok(true)
}

/// Whether run `a`'s current row goes before run `b`'s (equal keys: the earlier run first).
fn before(runs: &[Run], a: usize, b: usize) -> bool {
    let (ra, rb) = (&runs[a], &runs[b]);
    match ra.keys.row(ra.pos).cmp(&rb.keys.row(rb.pos)) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => a < b,
    }
}

fn sift_down(heap: &mut [usize], mut i: usize, runs: &[Run]) {
    loop {
        let left = 2 * i + 1;
        if left >= heap.len() {
            return;
        }
        let right = left + 1;
        let mut m = left;
        if right < heap.len() && before(runs, heap[right], heap[left]) {
            m = right;
        }
        if before(runs, heap[m], heap[i]) {
            heap.swap(i, m);
            i = m;
        } else {
            return;
        }
    }
}

/// Writes the pending output rows, then keeps only the batches the live runs still read.
fn flush(
    tablet_id: i64,
    out: &mut Vec<(usize, usize)>,
    slots: &mut Vec<RecordBatch>,
    runs: &mut [Run],
    heap: &[usize],
    writer: &mut RowsetWriter,
) -> Result<()> {
    if !out.is_empty() {
        let refs: Vec<&RecordBatch> = slots.iter().collect();
        let batch = interleave_record_batch(&refs, out).map_err(|e| arrow_err(tablet_id, e))?;
        writer.write(&batch)?;
        out.clear();
    }
    let mut kept = Vec::with_capacity(heap.len());
    for &r in heap {
        kept.push(runs[r].batch.clone());
        runs[r].slot = kept.len() - 1;
    }
    *slots = kept;
    Ok(())
}
