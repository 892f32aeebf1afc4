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
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ChildrenPropertiesMode;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::ReplaceChildrenOptions;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::aggregates::AggregateMode;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::limit::LocalLimitExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;

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

impl PhysicalOptimizerRule for PushFragments {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(match absorb(&node) {
                Some(p) => Transformed::yes(p),
                None => Transformed::no(node),
            })
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
