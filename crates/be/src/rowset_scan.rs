//! The scan of one tablet's rowset files at a version: the executable form of a fragment's
//! tablet leaf on a backend.
//!
//! Row groups whose Parquet statistics cannot satisfy the leaf's predicate are skipped.
//! The columns of the others come from the [`ColumnCache`] when it has them, and are
//! decoded (and kept there) when it does not; either way they leave the scan as slices of
//! `batch_size` rows, in file and row order.

use std::collections::HashSet;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::sync::Arc;

use arrow::array::Array;
use arrow::array::ArrayRef;
use arrow::array::BooleanArray;
use arrow::array::RecordBatch;
use arrow::array::RecordBatchOptions;
use arrow::datatypes::SchemaRef;
use datafusion::common::Column;
use datafusion::common::DataFusionError;
use datafusion::common::Result as DfResult;
use datafusion::common::ScalarValue;
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::TaskContext;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderMetadata;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::pruning::PruningPredicate;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::DisplayAs;
use datafusion::physical_plan::DisplayFormatType;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::Partitioning;
use datafusion::physical_plan::PlanProperties;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::execution_plan::Boundedness;
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::metrics::Count;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::metrics::MetricBuilder;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;

use crate::column_cache::ColumnCache;
use crate::column_cache::FileKey;

/// Scans a tablet's files through the column cache.
pub struct RowsetScanExec {
    tablet_id: i64,
    files: Vec<FileKey>,
    table_schema: SchemaRef,
    /// Indices into `table_schema` of the columns returned.
    projection: Vec<usize>,
    pruning: Option<Arc<PruningPredicate>>,
    limit: Option<usize>,
    cache: Arc<ColumnCache>,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl fmt::Debug for RowsetScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowsetScanExec")
            .field("tablet_id", &self.tablet_id)
            .field("files", &self.files.len())
            .field("projection", &self.projection)
            .field("limit", &self.limit)
            .finish()
    }
}

impl RowsetScanExec {
    /// A scan of `files` (the tablet's rowsets in version order), returning the columns
    /// `projection` (all when `None`) of `table_schema`, skipping row groups `predicate`
    /// rules out, stopping after `limit` rows.
    pub fn try_new(
        tablet_id: i64,
        files: Vec<FileKey>,
        table_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        predicate: Option<Arc<dyn PhysicalExpr>>,
        limit: Option<usize>,
        cache: Arc<ColumnCache>,
    ) -> DfResult<Self> {
        let projection = projection.unwrap_or_else(|| (0..table_schema.fields().len()).collect());
        let schema = Arc::new(table_schema.project(&projection)?);
        let pruning = match predicate {
            None => None,
            Some(p) => {
                // A predicate the statistics cannot use is no reason to fail the scan.
                match PruningPredicateBuilder::new()
                    .with_file_schema(table_schema.clone())
                    .try_build(p)
                {
                    Ok(pp) if !pp.always_true() => Some(Arc::new(pp)),
                    _ => None,
                }
            }
        };
        let props = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(RowsetScanExec {
            tablet_id,
            files,
            table_schema,
            projection,
            pruning,
            limit,
            cache,
            props: Arc::new(props),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for RowsetScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "RowsetScanExec: tablet={}, files={}, columns={:?}",
            self.tablet_id,
            self.files.len(),
            self.projection
        )?;
        if self.pruning.is_some() {
            f.write_str(", pruning predicate")?;
        }
        if let Some(l) = self.limit {
            write!(f, ", limit={l}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for RowsetScanExec {
    fn name(&self) -> &str {
        "RowsetScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "RowsetScanExec has no children".into(),
            ))
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let counter =
            |name: &'static str| MetricBuilder::new(&self.metrics).counter(name, partition);
        let scan = Scan {
            tablet_id: self.tablet_id,
            files: self.files.clone().into(),
            table_schema: self.table_schema.clone(),
            schema: self.schema(),
            projection: self.projection.clone(),
            pruning: self.pruning.clone(),
            remaining: self.limit.unwrap_or(usize::MAX),
            batch_size: context.session_config().batch_size().max(1),
            cache: self.cache.clone(),
            current: None,
            pending: VecDeque::new(),
            failed: false,
            row_groups_read: counter("row_groups_read"),
            row_groups_pruned: counter("row_groups_pruned_statistics"),
            columns_from_cache: counter("columns_from_cache"),
            columns_decoded: counter("columns_decoded"),
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            futures::stream::iter(scan),
        )))
    }
}

/// The columns of one row group being sliced into batches.
struct Current {
    columns: Vec<ArrayRef>,
    rows: usize,
    offset: usize,
}

/// The scan's state: a synchronous iterator of batches.
struct Scan {
    tablet_id: i64,
    files: VecDeque<FileKey>,
    table_schema: SchemaRef,
    schema: SchemaRef,
    projection: Vec<usize>,
    pruning: Option<Arc<PruningPredicate>>,
    remaining: usize,
    batch_size: usize,
    cache: Arc<ColumnCache>,
    current: Option<Current>,
    /// Row groups of the current file still to read.
    pending: VecDeque<(FileKey, ArrowReaderMetadata, usize)>,
    failed: bool,
    row_groups_read: Count,
    row_groups_pruned: Count,
    columns_from_cache: Count,
    columns_decoded: Count,
}

impl Iterator for Scan {
    type Item = DfResult<RecordBatch>;

    fn next(&mut self) -> Option<DfResult<RecordBatch>> {
        if self.failed {
            return None;
        }
        let out = self.step();
        if matches!(out, Some(Err(_))) {
            self.failed = true;
        }
        out
    }
}

impl Scan {
    fn step(&mut self) -> Option<DfResult<RecordBatch>> {
        loop {
            if self.remaining == 0 {
                return None;
            }
            if let Some(cur) = &mut self.current {
                if cur.offset < cur.rows {
                    let n = self
                        .batch_size
                        .min(cur.rows - cur.offset)
                        .min(self.remaining);
                    let columns = cur.columns.iter().map(|c| c.slice(cur.offset, n)).collect();
                    cur.offset += n;
                    self.remaining -= n;
                    let options = RecordBatchOptions::new().with_row_count(Some(n));
                    return Some(
                        RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)
                            .map_err(|e| {
                                DataFusionError::Execution(format!(
                                    "tablet {}: a rowset file does not match the table: {e}",
                                    self.tablet_id
                                ))
                            }),
                    );
                }
                self.current = None;
            }
            if let Some((file, footer, row_group)) = self.pending.pop_front() {
                match self.load(&file, &footer, row_group) {
                    Ok(cur) => self.current = Some(cur),
                    Err(e) => return Some(Err(e)),
                }
                continue;
            }
            let file = self.files.pop_front()?;
            if let Err(e) = self.open(file) {
                return Some(Err(e));
            }
        }
    }

    fn file_error(&self, file: &FileKey, what: impl fmt::Display) -> DataFusionError {
        DataFusionError::Execution(format!(
            "tablet {}: cannot read rowset file {}: {what}",
            self.tablet_id,
            file.path()
        ))
    }

    /// Reads a file's footer and queues the row groups that may hold matching rows.
    fn open(&mut self, file: FileKey) -> DfResult<()> {
        let footer = match self.cache.footer(&file) {
            Some(f) => f,
            None => {
                let f = File::open(file.path()).map_err(|e| self.file_error(&file, e))?;
                let footer = ArrowReaderMetadata::load(&f, ArrowReaderOptions::new())
                    .map_err(|e| self.file_error(&file, e))?;
                if footer.schema().fields().len() != self.table_schema.fields().len() {
                    return Err(self.file_error(
                        &file,
                        format!(
                            "it has {} columns, the table {}",
                            footer.schema().fields().len(),
                            self.table_schema.fields().len()
                        ),
                    ));
                }
                self.cache.put_footer(&file, footer.clone());
                footer
            }
        };
        let groups = footer.metadata().num_row_groups();
        let keep = match &self.pruning {
            Some(p) => {
                let stats = RowGroupStatistics {
                    footer: &footer,
                    table_schema: &self.table_schema,
                };
                // Statistics that cannot be evaluated rule nothing out.
                p.prune(&stats).unwrap_or_else(|_| vec![true; groups])
            }
            None => vec![true; groups],
        };
        for row_group in 0..groups {
            // A verdict missing for a row group keeps it: pruning only ever skips.
            let keep = keep.get(row_group).copied().unwrap_or(true);
            if keep && footer.metadata().row_group(row_group).num_rows() > 0 {
                self.pending
                    .push_back((file.clone(), footer.clone(), row_group));
            } else if !keep {
                self.row_groups_pruned.add(1);
            }
        }
        Ok(())
    }

    /// The projected columns of one row group: cached, or decoded and cached.
    fn load(
        &mut self,
        file: &FileKey,
        footer: &ArrowReaderMetadata,
        row_group: usize,
    ) -> DfResult<Current> {
        self.row_groups_read.add(1);
        let rows = footer.metadata().row_group(row_group).num_rows().max(0) as usize;
        let mut columns: Vec<Option<ArrayRef>> = self
            .projection
            .iter()
            .map(|&c| self.cache.column(file, row_group, c))
            .collect();
        let mut missing: Vec<usize> = self
            .projection
            .iter()
            .zip(&columns)
            .filter(|(_, c)| c.is_none())
            .map(|(&c, _)| c)
            .collect();
        missing.sort_unstable();
        missing.dedup();
        self.columns_from_cache
            .add(columns.iter().filter(|c| c.is_some()).count());
        if !missing.is_empty() {
            self.columns_decoded.add(missing.len());
            let decoded = self.decode(file, footer, row_group, rows, &missing)?;
            for (&c, array) in missing.iter().zip(decoded) {
                self.cache.put_column(file, row_group, c, array.clone());
                for (slot, &p) in columns.iter_mut().zip(&self.projection) {
                    if p == c {
                        *slot = Some(array.clone());
                    }
                }
            }
        }
        let columns: Vec<ArrayRef> = columns.into_iter().flatten().collect();
        if columns.len() != self.projection.len() {
            return Err(self.file_error(file, "a column was not decoded"));
        }
        Ok(Current {
            columns,
            rows,
            offset: 0,
        })
    }

    /// Decodes columns `missing` (ascending) of a row group, checking them against the table.
    fn decode(
        &self,
        file: &FileKey,
        footer: &ArrowReaderMetadata,
        row_group: usize,
        rows: usize,
        missing: &[usize],
    ) -> DfResult<Vec<ArrayRef>> {
        let f = File::open(file.path()).map_err(|e| self.file_error(file, e))?;
        let mask = ProjectionMask::roots(footer.parquet_schema(), missing.iter().copied());
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(f, footer.clone())
            .with_projection(mask)
            .with_row_groups(vec![row_group])
            .with_batch_size(rows.max(1))
            .build()
            .map_err(|e| self.file_error(file, e))?;
        let mut batches = Vec::new();
        for batch in reader {
            batches.push(batch.map_err(|e| self.file_error(file, e))?);
        }
        let mut out = Vec::with_capacity(missing.len());
        for (i, &c) in missing.iter().enumerate() {
            let parts: Vec<&dyn Array> = batches
                .iter()
                .filter_map(|b| b.columns().get(i).map(|a| a.as_ref()))
                .collect();
            let array = match parts.as_slice() {
                [one] => one.slice(0, one.len()),
                _ => arrow::compute::concat(&parts).map_err(|e| self.file_error(file, e))?,
            };
            let field = self.table_schema.field(c);
            if array.data_type() != field.data_type() || array.len() != rows {
                return Err(self.file_error(
                    file,
                    format!(
                        "column '{}' holds {} rows of {} in row group {row_group}, the table \
                         expects {rows} of {}",
                        field.name(),
                        array.len(),
                        array.data_type(),
                        field.data_type()
                    ),
                ));
            }
            out.push(array);
        }
        Ok(out)
    }
}

/// A file's row-group statistics, by the table's column names.
struct RowGroupStatistics<'a> {
    footer: &'a ArrowReaderMetadata,
    table_schema: &'a SchemaRef,
}

impl RowGroupStatistics<'_> {
    fn converter(&self, column: &Column) -> Option<StatisticsConverter<'_>> {
        let index = self.table_schema.index_of(&column.name).ok()?;
        let file_schema = self.footer.schema();
        let name = file_schema.fields().get(index)?.name();
        StatisticsConverter::try_new(name, file_schema, self.footer.parquet_schema()).ok()
    }
}

impl PruningStatistics for RowGroupStatistics<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        let groups = self.footer.metadata().row_groups();
        self.converter(column)?.row_group_mins(groups.iter()).ok()
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        let groups = self.footer.metadata().row_groups();
        self.converter(column)?.row_group_maxes(groups.iter()).ok()
    }

    fn num_containers(&self) -> usize {
        self.footer.metadata().num_row_groups()
    }

    fn null_counts(&self, column: &Column) -> Option<ArrayRef> {
        let groups = self.footer.metadata().row_groups();
        let counts = self
            .converter(column)?
            .row_group_null_counts(groups.iter())
            .ok()?;
        Some(Arc::new(counts))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let groups = self.footer.metadata().row_groups();
        let rows: arrow::array::UInt64Array = groups
            .iter()
            .map(|g| Some(g.num_rows().max(0) as u64))
            .collect();
        Some(Arc::new(rows))
    }

    fn contained(&self, _column: &Column, _values: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::array::StringArray;
    use arrow::datatypes::DataType;
    use arrow::datatypes::Field;
    use arrow::datatypes::Schema;
    use datafusion::logical_expr::Operator;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;
    use datafusion::physical_expr::expressions::BinaryExpr;
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_expr::expressions::lit;
    use datafusion::physical_plan::common::collect;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]))
    }

    /// A file of `rows` rows k = start.., s = "v{k}", in row groups of 100 rows.
    fn write(dir: &std::path::Path, name: &str, start: i64, rows: i64) -> FileKey {
        let path = dir.join(name);
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(100))
            .build();
        let file = File::create(&path).expect("create");
        let mut w = ArrowWriter::try_new(file, schema(), Some(props)).expect("writer");
        let k = Int64Array::from_iter_values(start..start + rows);
        let s = StringArray::from_iter_values((start..start + rows).map(|v| format!("v{v}")));
        let batch = RecordBatch::try_new(schema(), vec![Arc::new(k), Arc::new(s)]).expect("batch");
        w.write(&batch).expect("write");
        w.close().expect("close");
        FileKey::of(&path).expect("key")
    }

    fn metric(exec: &RowsetScanExec, name: &str) -> usize {
        exec.metrics()
            .and_then(|m| m.sum_by_name(name))
            .map(|v| v.as_usize())
            .unwrap_or(0)
    }

    async fn run(exec: &RowsetScanExec, batch_size: usize) -> Vec<RecordBatch> {
        let config = datafusion::prelude::SessionConfig::new().with_batch_size(batch_size);
        let ctx = Arc::new(TaskContext::default().with_session_config(config));
        let stream = exec.execute(0, ctx).expect("execute");
        collect(stream).await.expect("collect")
    }

    fn keys(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .map(|a| a.values().to_vec())
                    .unwrap_or_default()
            })
            .collect()
    }

    #[tokio::test]
    async fn prunes_row_groups_slices_batches_and_reuses_decoded_columns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = vec![
            write(dir.path(), "a", 0, 250),
            write(dir.path(), "b", 1000, 100),
        ];
        let cache = Arc::new(ColumnCache::new(64 << 20));
        // k >= 150 AND k < 1050: row group [100, 200) of a, [200, 250) of a, half of b.
        let predicate: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            Arc::new(BinaryExpr::new(
                col("k", &schema()).expect("k"),
                Operator::GtEq,
                lit(150i64),
            )),
            Operator::And,
            Arc::new(BinaryExpr::new(
                col("k", &schema()).expect("k"),
                Operator::Lt,
                lit(1050i64),
            )),
        ));
        let scan = |projection: Option<Vec<usize>>, limit| {
            RowsetScanExec::try_new(
                7,
                files.clone(),
                schema(),
                projection,
                Some(predicate.clone()),
                limit,
                cache.clone(),
            )
            .expect("scan")
        };
        let exec = scan(None, None);
        let out = run(&exec, 64).await;
        // The predicate only prunes: rows of the kept row groups all come back, in order.
        let want: Vec<i64> = (100..250).chain(1000..1100).collect();
        assert_eq!(keys(&out), want);
        assert!(
            out.iter()
                .all(|b| b.num_rows() <= 64 && b.num_columns() == 2)
        );
        assert_eq!(metric(&exec, "row_groups_pruned_statistics"), 1);
        assert_eq!(metric(&exec, "row_groups_read"), 3);
        assert_eq!(metric(&exec, "columns_decoded"), 6);
        assert_eq!(metric(&exec, "columns_from_cache"), 0);

        // Again, only s: from the cache, nothing decoded.
        let again = scan(Some(vec![1]), None);
        let out = run(&again, 8192).await;
        let rows: usize = out.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 250);
        assert_eq!(out[0].schema().field(0).name(), "s");
        assert_eq!(metric(&again, "columns_decoded"), 0);
        assert_eq!(metric(&again, "columns_from_cache"), 3);

        // A limit stops early; no columns at all still counts rows.
        let limited = scan(Some(vec![0]), Some(120));
        assert_eq!(
            keys(&run(&limited, 50).await),
            (100..220).collect::<Vec<_>>()
        );
        assert_eq!(metric(&limited, "row_groups_read"), 2);
        let counted = scan(Some(vec![]), None);
        let rows: usize = run(&counted, 8192).await.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 250);
    }

    #[tokio::test]
    async fn a_damaged_or_missing_file_is_an_error_naming_the_tablet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write(dir.path(), "a", 0, 10);
        std::fs::write(dir.path().join("a"), b"not parquet").expect("overwrite");
        let cache = Arc::new(ColumnCache::new(1 << 20));
        let exec = RowsetScanExec::try_new(
            9,
            vec![file.clone()],
            schema(),
            None,
            None,
            None,
            cache.clone(),
        )
        .expect("scan");
        let config = datafusion::prelude::SessionConfig::new();
        let ctx = Arc::new(TaskContext::default().with_session_config(config));
        let err = collect(exec.execute(0, ctx.clone()).expect("execute"))
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("tablet 9") && err.contains("rowset file"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("a")).expect("remove");
        let err = collect(exec.execute(0, ctx).expect("execute"))
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("tablet 9"), "{err}");
    }
}
