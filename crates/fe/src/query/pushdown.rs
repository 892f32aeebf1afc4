//! Moves per-tablet work onto the backends.
//!
//! After DataFusion has optimized the physical plan, this rule walks it bottom-up and folds
//! every operator that works on one input partition at a time and sits directly on a
//! [`TabletScanExec`] into the scan's fragment: filters, projections, the partial phase of an
//! aggregation, per-partition limits and top-N sorts. Each tablet is one partition, so these
//! operators give the same result on the backend, and only their (usually much smaller)
//! output crosses the network. An operator whose expressions cannot be serialized stays on
//! the frontend.

use std::sync::Arc;

use datafusion::common::Result as DfResult;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::tree_node::TreeNode;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ChildrenPropertiesMode;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::Partitioning;
use datafusion::physical_plan::ReplaceChildrenOptions;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::aggregates::AggregateMode;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::limit::LocalLimitExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use query::TabletLeafExec;

use super::scan::TabletScanExec;

/// The rule; it runs after DataFusion's own physical optimizer rules.
#[derive(Debug, Default)]
pub struct PushFragments;

fn per_partition(node: &dyn ExecutionPlan) -> bool {
    if node.downcast_ref::<FilterExec>().is_some()
        || node.downcast_ref::<ProjectionExec>().is_some()
        || node.downcast_ref::<LocalLimitExec>().is_some()
    {
        return true;
    }
    if let Some(agg) = node.downcast_ref::<AggregateExec>() {
        return *agg.mode() == AggregateMode::Partial;
    }
    if let Some(sort) = node.downcast_ref::<SortExec>() {
        return sort.preserve_partitioning() && sort.fetch().is_some();
    }
    false
}

fn absorb(node: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    let children = node.children();
    let [child] = children.as_slice() else {
        return None;
    };
    let scan = child.downcast_ref::<TabletScanExec>()?;
    if !per_partition(node.as_ref()) {
        return None;
    }
    let fragment = node
        .clone()
        .replace_children(
            vec![scan.fragment().clone()],
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
        .ok()?;
    match scan.with_fragment(fragment) {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            tracing::debug!(node = node.name(), %e, "operator stays on the frontend");
            None
        }
    }
}

/// Whether column `name` of `node`'s output is the tablet leaf's column `name`, unchanged
/// (through the filters and projections of a fragment).
fn passes_through(node: &Arc<dyn ExecutionPlan>, name: &str) -> bool {
    if node.downcast_ref::<TabletLeafExec>().is_some() {
        return node.schema().field_with_name(name).is_ok();
    }
    if let Some(f) = node.downcast_ref::<FilterExec>() {
        if let Some(p) = f.projection() {
            let input = f.input().schema();
            let kept = p
                .iter()
                .any(|&i| input.fields().get(i).is_some_and(|c| c.name() == name));
            if !kept {
                return false;
            }
        }
        return passes_through(f.input(), name);
    }
    if let Some(p) = node.downcast_ref::<ProjectionExec>() {
        let same = p.expr().iter().any(|e| {
            e.alias == name
                && e.expr
                    .downcast_ref::<Column>()
                    .is_some_and(|c| c.name() == name)
        });
        return same && passes_through(p.input(), name);
    }
    false
}

/// An aggregation whose groups each lie in one tablet finishes on the backends.
///
/// `Final(Partial(...))` with the partial phase in a scan's fragment becomes one `Single`
/// aggregation in the fragment when its GROUP BY holds every column that places a row in one
/// tablet (the distribution columns, and the partition column of a range-partitioned table):
/// no two tablets hold rows of one group, so each tablet's result is already final. Only the
/// groups cross the network, and the frontend keeps no hash table for them (a GROUP BY on the
/// bucketing key, as StarRocks's one-phase aggregation). The exchanges between the two phases
/// are rebuilt above the scan so the output is distributed as the final phase's was.
fn finish_on_tablets(node: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    let fin = node.downcast_ref::<AggregateExec>()?;
    if !matches!(
        fin.mode(),
        AggregateMode::Final | AggregateMode::FinalPartitioned
    ) {
        return None;
    }
    let mut exchanges = Vec::new();
    let mut child = fin.input().clone();
    while child.downcast_ref::<RepartitionExec>().is_some()
        || child.downcast_ref::<CoalescePartitionsExec>().is_some()
    {
        exchanges.push(child.clone());
        child = child.children().first().map(|c| (*c).clone())?;
    }
    let scan = child.downcast_ref::<TabletScanExec>()?;
    let keys = scan.bucket_keys()?;
    let partial = scan.fragment().downcast_ref::<AggregateExec>()?;
    if *partial.mode() != AggregateMode::Partial || !partial.group_expr().is_single() {
        return None;
    }
    let grouped = |name: &str| {
        partial
            .group_expr()
            .expr()
            .iter()
            .any(|(e, _)| e.downcast_ref::<Column>().is_some_and(|c| c.name() == name))
    };
    // Floating-point keys are hashed by their bits (-0.0 and 0.0 apart) but may group
    // together: never finish those on the tablets.
    let input = partial.input().schema();
    let exact = |name: &str| {
        input
            .field_with_name(name)
            .is_ok_and(|f| !f.data_type().is_floating())
    };
    if !keys
        .iter()
        .all(|k| grouped(k) && exact(k) && passes_through(partial.input(), k))
    {
        return None;
    }
    let single = AggregateExec::try_new(
        AggregateMode::Single,
        partial.group_expr().clone(),
        partial.aggr_expr().to_vec(),
        partial.filter_expr().to_vec(),
        partial.input().clone(),
        partial.input_schema(),
    )
    .ok()?;
    let same_columns = single.schema().fields().len() == fin.schema().fields().len()
        && single
            .schema()
            .fields()
            .iter()
            .zip(fin.schema().fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if !same_columns {
        return None;
    }
    let groups = partial.group_expr().expr().len();
    let mut out: Arc<dyn ExecutionPlan> = Arc::new(scan.with_fragment(Arc::new(single)).ok()?);
    for ex in exchanges.iter().rev() {
        if let Some(r) = ex.downcast_ref::<RepartitionExec>() {
            // Hash keys are group columns, at the same places in both phases' output.
            let partitioning = match r.partitioning() {
                Partitioning::Hash(exprs, n)
                    if exprs.iter().all(|e| {
                        e.downcast_ref::<Column>()
                            .is_some_and(|c| c.index() < groups)
                    }) =>
                {
                    Partitioning::Hash(exprs.clone(), *n)
                }
                Partitioning::RoundRobinBatch(n) => Partitioning::RoundRobinBatch(*n),
                _ => return None,
            };
            out = Arc::new(RepartitionExec::try_new(out, partitioning).ok()?);
        } else {
            out = Arc::new(CoalescePartitionsExec::new(out));
        }
    }
    let (o, f) = (out.properties(), fin.properties());
    let same_distribution = o.partitioning == f.partitioning
        && o.output_ordering().is_none()
        && f.output_ordering().is_none();
    same_distribution.then_some(out)
}

/// A filter over an exchange over a scan goes under the exchange (a filter keeps each row or
/// not on its own, wherever the row is), where [`absorb`] takes it into the fragment.
fn filter_under_exchange(node: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    let filter = node.downcast_ref::<FilterExec>()?;
    let exchange = filter.input();
    let scan = exchange.children().first().map(|c| (*c).clone())?;
    scan.downcast_ref::<TabletScanExec>()?;
    let options = || ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
    let moved = node.clone().replace_children(vec![scan], options()).ok()?;
    let moved = absorb(&moved)?;
    if exchange.downcast_ref::<CoalescePartitionsExec>().is_some() {
        return Some(Arc::new(CoalescePartitionsExec::new(moved)));
    }
    let r = exchange.downcast_ref::<RepartitionExec>()?;
    if r.preserve_order() {
        return None;
    }
    // The filter's projection (if any) moves the hash columns: find them in its output.
    let placed = |c: &Column| -> Option<usize> {
        match filter.projection() {
            None => Some(c.index()),
            Some(p) => p.iter().position(|&i| i == c.index()),
        }
    };
    let partitioning = match r.partitioning() {
        Partitioning::Hash(exprs, n) => {
            let mut moved_exprs = Vec::with_capacity(exprs.len());
            for e in exprs {
                let c = e.downcast_ref::<Column>()?;
                let at = placed(c)?;
                moved_exprs.push(Arc::new(Column::new(c.name(), at)) as Arc<dyn PhysicalExpr>);
            }
            Partitioning::Hash(moved_exprs, *n)
        }
        Partitioning::RoundRobinBatch(n) => Partitioning::RoundRobinBatch(*n),
        _ => return None,
    };
    let out: Arc<dyn ExecutionPlan> = Arc::new(RepartitionExec::try_new(moved, partitioning).ok()?);
    // The result must be distributed as the filter's output was.
    (out.properties().partitioning == node.properties().partitioning).then_some(out)
}

/// Whether `node` yields every row of a table: a scan with nothing but the tablet leaf in its
/// fragment, under exchanges and projections.
fn whole_table(node: &Arc<dyn ExecutionPlan>) -> bool {
    if let Some(scan) = node.downcast_ref::<TabletScanExec>() {
        return scan
            .fragment()
            .downcast_ref::<TabletLeafExec>()
            .is_some_and(|l| l.leaf().limit.is_none());
    }
    let passes = node.downcast_ref::<RepartitionExec>().is_some()
        || node.downcast_ref::<CoalescePartitionsExec>().is_some()
        || node.downcast_ref::<ProjectionExec>().is_some();
    passes && node.children().first().is_some_and(|c| whole_table(c))
}

/// A hash join whose build side is a whole table sends no runtime filter: its keys are every
/// key of that table, which (for the usual foreign-key join) every probe row matches. Waiting
/// for the build side and shipping its keys would only cost.
fn drop_useless_runtime_filter(node: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    let join = node.downcast_ref::<HashJoinExec>()?;
    if !whole_table(join.left()) {
        return None;
    }
    let ids: Vec<u64> = node
        .dynamic_expressions_produced()
        .iter()
        .filter_map(|e| e.expression_id())
        .collect();
    let mut changed = false;
    let right = join
        .right()
        .clone()
        .transform_up(|n| {
            let Some(scan) = n.downcast_ref::<TabletScanExec>() else {
                return Ok(Transformed::no(n));
            };
            let mut scan = scan.clone();
            let mut dropped = false;
            for id in &ids {
                if let Some(s) = scan.without_runtime_filter(*id) {
                    scan = s;
                    dropped = true;
                }
            }
            if !dropped {
                return Ok(Transformed::no(n));
            }
            changed = true;
            Ok(Transformed::yes(Arc::new(scan) as Arc<dyn ExecutionPlan>))
        })
        .ok()?
        .data;
    if !changed {
        return None;
    }
    node.clone()
        .replace_children(
            vec![join.left().clone(), right],
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
        .ok()
}

impl PhysicalOptimizerRule for PushFragments {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if let Some(p) = absorb(&node)
                .or_else(|| finish_on_tablets(&node))
                .or_else(|| filter_under_exchange(&node))
                .or_else(|| drop_useless_runtime_filter(&node))
            {
                return Ok(Transformed::yes(p));
            }
            Ok(Transformed::no(node))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "tessera_push_fragments"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
