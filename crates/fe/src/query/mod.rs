//! Queries over tables: DataFusion plans them on this FE and the backends scan the tablets.
//!
//! A query runs in four steps:
//! 1. the tables it names are resolved and **snapshotted** from the catalog under one read of
//!    the journal's state: schema, partitions with their visible versions, tablets and the
//!    replicas that can be read at those versions. The query reads exactly those versions, so
//!    it sees whole loads only, however long it runs and whatever commits meanwhile;
//! 2. DataFusion plans it against that snapshot (partition and bucket pruning happen when
//!    the scan is planned, see [`prune`]);
//! 3. [`pushdown::PushFragments`] moves the per-tablet part of the plan (filters,
//!    projections, partial aggregation, top-N) into fragments that run on the backends;
//! 4. the plan runs under the session's `query_timeout` and memory limit, and the result
//!    goes to the client with MySQL column types.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use common::Error;
use common::Result;
use common::StatusCode;
use datafusion::catalog::CatalogProvider;
use datafusion::catalog::MemoryCatalogProvider;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::catalog::SchemaProvider;
use datafusion::catalog::TableProvider;
use datafusion::common::DataFusionError;
use datafusion::common::TableReference;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::Statement as DfStatement;
use sql::sqlparser::ast::Query;
use sql::sqlparser::ast::Statement as SqlStatement;

use crate::frontend::Frontend;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

pub mod info_schema;
mod join_order;
pub mod mysql_functions;
pub mod prune;
pub mod pushdown;
pub mod result;
pub mod scan;

use scan::BackendInfo;
use scan::ScanContext;
use scan::TesseraTable;

/// A table a query names: database, table name as written, provider.
type NamedTable = (String, String, Arc<dyn TableProvider>);

/// The catalog name StarRocks gives its own tables.
pub const DEFAULT_CATALOG: &str = "default_catalog";

/// How a query is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Run it and return the rows.
    Run,
    /// Return the physical plan (`EXPLAIN`).
    Explain,
    /// Return the logical and physical plans (`EXPLAIN VERBOSE`/`COSTS`).
    ExplainVerbose,
    /// Return the logical plan only (`EXPLAIN LOGICAL`).
    ExplainLogical,
}

/// Maps a DataFusion error to what a MySQL client sees.
pub fn df_error(e: DataFusionError) -> Error {
    // Our own errors travel inside DataFusion's; find them first.
    let mut cur: &(dyn std::error::Error + 'static) = &e;
    loop {
        if let Some(ours) = cur.downcast_ref::<Error>() {
            return ours.clone();
        }
        match cur.source() {
            Some(next) => cur = next,
            None => break,
        }
    }
    let inner = e.find_root();
    let message = inner.to_string();
    match inner {
        DataFusionError::SchemaError(se, _) => {
            let text = se.to_string();
            if text.contains("No field named") {
                let col = text
                    .split("No field named ")
                    .nth(1)
                    .and_then(|r| r.split(['.', ' ']).next())
                    .unwrap_or("")
                    .trim_matches(|c| c == '"' || c == '\'' || c == '`')
                    .to_string();
                Error::new(
                    StatusCode::ColumnNotFound,
                    format!("Unknown column '{col}' in 'field list' ({text})"),
                )
            } else {
                Error::new(StatusCode::InvalidArgument, text)
            }
        }
        DataFusionError::NotImplemented(m) => Error::new(
            StatusCode::Unsupported,
            format!("{m} is not supported by this version of Tessera"),
        ),
        DataFusionError::ResourcesExhausted(m) => Error::new(
            StatusCode::MemLimitExceeded,
            format!(
                "Memory of query exceeds limit: the query needs more memory than it may use \
                 (exec_mem_limit / query_mem_limit): {m}"
            ),
        ),
        DataFusionError::Plan(m) => {
            let lower = m.to_ascii_lowercase();
            if lower.contains("coercion")
                || lower.contains("cannot be cast")
                || lower.contains("no function matches")
                || lower.contains("does not support")
                || lower.contains("failed to coerce")
            {
                Error::new(StatusCode::TypeMismatch, m.clone())
            } else {
                Error::new(StatusCode::InvalidArgument, m.clone())
            }
        }
        DataFusionError::Execution(m) => Error::new(StatusCode::InvalidArgument, m.clone()),
        DataFusionError::ArrowError(ae, _) => {
            Error::new(StatusCode::InvalidArgument, ae.to_string())
        }
        _ => Error::new(StatusCode::Internal, message),
    }
}

/// The database and table a reference names, with the session's database filling in.
fn resolve_ref(session: &Session, r: &TableReference) -> Result<(String, String)> {
    match r {
        TableReference::Bare { table } => match &session.database {
            Some(db) => Ok((db.clone(), table.to_string())),
            None => Err(Error::new(
                StatusCode::NoDatabaseSelected,
                "No database selected",
            )),
        },
        TableReference::Partial { schema, table } => Ok((schema.to_string(), table.to_string())),
        TableReference::Full {
            catalog,
            schema,
            table,
        } => {
            if !catalog.eq_ignore_ascii_case(DEFAULT_CATALOG) {
                return Err(Error::new(
                    StatusCode::Unsupported,
                    format!(
                        "catalog '{catalog}' does not exist (Tessera has one catalog, \
                         {DEFAULT_CATALOG})"
                    ),
                ));
            }
            Ok((schema.to_string(), table.to_string()))
        }
    }
}

/// Looks a name up exactly, then case-insensitively when that is unambiguous (unquoted
/// identifiers reach us lower-cased).
fn lookup<'a, V>(
    map: &'a std::collections::BTreeMap<String, V>,
    name: &str,
) -> Option<(&'a String, &'a V)> {
    if let Some(kv) = map.get_key_value(name) {
        return Some(kv);
    }
    let mut found = map.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
    let first = found.next()?;
    if found.next().is_some() {
        return None;
    }
    Some(first)
}

/// Runs a query (or explains it).
pub async fn execute(
    fe: &Arc<Frontend>,
    session: &Session,
    statement: SqlStatement,
    mode: Mode,
) -> Result<Outcome> {
    let (fe2, session2) = (fe.clone(), session.clone());
    guarded(fe, session, async move {
        execute_inner(&fe2, &session2, statement, mode).await
    })
    .await
}

/// The runtime queries run on, apart from the one that serves MySQL, HTTP and the journal: a
/// CPU-heavy query must not delay raft heartbeats, other sessions, or its own timeout.
fn query_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores.max(2))
            .thread_name("tessera-query")
            .enable_all()
            .build()
            .expect("the query runtime's threads could not be started")
    })
}

/// Runs `work` under the session's `query_timeout`, ending it early on `KILL QUERY`. Dropping
/// the plan's streams stops its tasks and the backends' scans.
async fn guarded<T: Send + 'static>(
    fe: &Arc<Frontend>,
    session: &Session,
    work: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    // Aborted when this future ends early (timeout, KILL, the client went away): the plan is
    // dropped at its next yield, which stops its tasks and the backends' streams.
    struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
    impl<T> Drop for AbortOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(query_runtime().spawn(work));
    let work = async {
        match (&mut task.0).await {
            Ok(r) => r,
            Err(e) if e.is_panic() => Err(Error::new(
                StatusCode::Internal,
                "the query failed with an internal error (a panic; see fe.log)",
            )),
            Err(_) => Err(Error::new(StatusCode::Cancelled, "Query was cancelled")),
        }
    };
    let timeout = Duration::from_secs(session.query_timeout_secs());
    let mut cancel = fe.query_cancel(session.connection_id);
    let cancelled = async {
        match cancel.as_mut() {
            Some((rx, started)) => loop {
                if *rx.borrow_and_update() != *started {
                    break;
                }
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            },
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = tokio::time::timeout(timeout, work) => match r {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                StatusCode::Timeout,
                format!(
                    "Query exceeded time limit of {} seconds (query_timeout)",
                    timeout.as_secs()
                ),
            )),
        },
        () = cancelled => Err(Error::new(
            StatusCode::Cancelled,
            "Query was cancelled (KILL QUERY)",
        )),
    }
}

async fn execute_inner(
    fe: &Arc<Frontend>,
    session: &Session,
    statement: SqlStatement,
    mode: Mode,
) -> Result<Outcome> {
    let (state, logical) = plan(fe, session, statement).await?;
    if mode == Mode::ExplainLogical {
        return Ok(explain_rows(&[logical.display_indent().to_string()]));
    }
    let physical = state
        .query_planner()
        .create_physical_plan(&logical, &state)
        .await
        .map_err(df_error)?;
    match mode {
        Mode::Explain => return Ok(explain_rows(&[physical_text(&physical)])),
        Mode::ExplainVerbose => {
            return Ok(explain_rows(&[
                "Logical plan:".to_string(),
                logical.display_indent().to_string(),
                "Physical plan:".to_string(),
                physical_text(&physical),
            ]));
        }
        _ => {}
    }
    let schema = physical.schema();
    let batches = datafusion::physical_plan::collect(physical, state.task_ctx())
        .await
        .map_err(df_error)?;
    Ok(Outcome::Rows(result::to_rowset(&schema, &batches)?))
}

/// Runs a query and returns its result as Arrow (for `INSERT INTO ... SELECT`), under the
/// session's `query_timeout`.
pub async fn collect(
    fe: &Arc<Frontend>,
    session: &Session,
    statement: SqlStatement,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let (fe2, session2) = (fe.clone(), session.clone());
    let run = async move {
        let (fe, session) = (&fe2, &session2);
        let (state, logical) = plan(fe, session, statement).await?;
        let physical = state
            .query_planner()
            .create_physical_plan(&logical, &state)
            .await
            .map_err(df_error)?;
        let schema = physical.schema();
        let batches = datafusion::physical_plan::collect(physical, state.task_ctx())
            .await
            .map_err(df_error)?;
        Ok((schema, batches))
    };
    guarded(fe, session, run).await
}

/// Bytes of build-side keys (per join partition, duplicates counted) allowed per distinct key
/// `runtime_join_filter_push_down_limit` allows: room for i64 keys seen a few times each.
const RUNTIME_FILTER_BYTES_PER_KEY: usize = 48;

/// Snapshots the tables `statement` names and plans it (logical plan, optimized).
async fn plan(
    fe: &Arc<Frontend>,
    session: &Session,
    statement: SqlStatement,
) -> Result<(SessionState, LogicalPlan)> {
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(
            DEFAULT_CATALOG,
            session.database.clone().unwrap_or_default(),
        )
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(false)
        .with_target_partitions(cores.max(2))
        .with_round_robin_repartition(false);
    // MySQL semantics where DataFusion offers a choice.
    let opts = config.options_mut();
    opts.sql_parser.enable_ident_normalization = true;
    // NULL sorts first in ascending order, as in MySQL and StarRocks.
    opts.sql_parser.default_null_ordering = "nulls_min".to_string();
    opts.execution.time_zone = Some("+00:00".to_string());
    // A hash join's build-side keys travel to the backends scanning its probe side as an IN
    // list (see scan.rs, runtime filters): much larger lists than DataFusion's in-process
    // defaults pay off when they save rows crossing the network.
    let keys = session.runtime_filter_max_keys();
    opts.optimizer.hash_join_inlist_pushdown_max_distinct_values = keys;
    opts.optimizer.hash_join_inlist_pushdown_max_size =
        keys.saturating_mul(RUNTIME_FILTER_BYTES_PER_KEY);
    let limit = usize::try_from(session.query_mem_limit()).unwrap_or(usize::MAX);
    // No spilling to this FE's disk (StarRocks's default, enable_spill = false): a query past
    // its memory limit fails with a clear error instead.
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(limit, 1.0)
        .with_disk_manager_builder(
            datafusion::execution::disk_manager::DiskManagerBuilder::default()
                .with_mode(datafusion::execution::disk_manager::DiskManagerMode::Disabled),
        )
        .build_arc()
        .map_err(df_error)?;
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_optimizer_rule(Arc::new(join_order::ReorderJoins))
        .with_physical_optimizer_rule(Arc::new(pushdown::PushFragments))
        .with_physical_optimizer_rule(Arc::new(query::fast_decimal::FastDecimalRule))
        .build();
    for f in mysql_functions::functions() {
        datafusion::execution::FunctionRegistry::register_udf(&mut state, f).map_err(df_error)?;
    }
    datafusion::execution::FunctionRegistry::register_function_rewrite(
        &mut state,
        Arc::new(mysql_functions::BooleanIntComparison),
    )
    .map_err(df_error)?;

    let statement = DfStatement::Statement(Box::new(statement));
    let refs = state
        .resolve_table_references(&statement)
        .map_err(df_error)?;

    // One read of the catalog for every table the query names: one snapshot.
    let ctx = ScanContext {
        pool: fe.journal.pool.clone(),
        query_id: format!("{}-{}", session.connection_id, common::clock::now_ms()),
        connect_timeout: fe.rpc_timeout(),
        held: Arc::default(),
        mem_limit: session.query_mem_limit(),
    };
    let tables = fe.journal.state.read(|s| -> Result<Vec<NamedTable>> {
        let backends: HashMap<i64, BackendInfo> = s
            .catalog
            .backends
            .values()
            .map(|b| {
                (
                    b.id,
                    BackendInfo {
                        addr: format!("{}:{}", b.host, b.status.brpc_port),
                        alive: b.status.alive && b.status.brpc_port > 0,
                    },
                )
            })
            .collect();
        let backends = Arc::new(backends);
        // information_schema shows only what the user may see (a dropped user: nothing).
        let user = s.catalog.users.get(&session.user, &session.host);
        let mut out = Vec::new();
        for r in &refs {
            let (db_name, table_name) = resolve_ref(session, r)?;
            if db_name.eq_ignore_ascii_case(info_schema::INFORMATION_SCHEMA) {
                out.push((
                    db_name,
                    table_name.clone(),
                    info_schema::table(&s.catalog, &table_name, &|db, table| {
                        user.as_ref().is_some_and(|u| match table {
                            Some(t) => u.can_see_table(db, t),
                            None => u.can_see_db(db),
                        })
                    })?,
                ));
                continue;
            }
            let Some((_, db)) = lookup(&s.catalog.databases, &db_name) else {
                return Err(Error::new(
                    StatusCode::DatabaseNotFound,
                    format!("Unknown database '{db_name}'"),
                ));
            };
            let Some((_, table)) = lookup(&db.tables, &table_name) else {
                return Err(Error::new(
                    StatusCode::TableNotFound,
                    format!("Table '{}.{table_name}' doesn't exist", db.name),
                ));
            };
            out.push((
                db_name,
                table_name,
                Arc::new(TesseraTable::new(
                    db.name.clone(),
                    table.clone(),
                    backends.clone(),
                    ctx.clone(),
                )),
            ));
        }
        Ok(out)
    })?;

    let mut statement = statement;
    fold_column_case(&mut statement, &tables);
    keep_alias_case(&mut statement, &tables);
    mysql_cast_types(&mut statement);

    let catalog = Arc::new(MemoryCatalogProvider::new());
    for (db, name, table) in tables {
        let schema = match catalog.schema(&db) {
            Some(s) => s,
            None => {
                let s: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
                catalog.register_schema(&db, s.clone()).map_err(df_error)?;
                s
            }
        };
        if !schema.table_exist(&name) {
            schema.register_table(name, table).map_err(df_error)?;
        }
    }
    if let Some(db) = &session.database
        && catalog.schema(db).is_none()
    {
        catalog
            .register_schema(db, Arc::new(MemorySchemaProvider::new()))
            .map_err(df_error)?;
    }
    state
        .catalog_list()
        .register_catalog(DEFAULT_CATALOG.to_string(), catalog);

    let logical = state.statement_to_plan(statement).await.map_err(df_error)?;
    let logical = state.optimize(&logical).map_err(df_error)?;
    Ok((state, logical))
}

/// Column names are case-insensitive in StarRocks, but DataFusion folds unquoted identifiers
/// to lower case and then matches exactly. An unquoted identifier that names a column of a
/// referenced table in another case (`userid` for a column `UserId`) is rewritten to the
/// column's own name, quoted, so it resolves; `SELECT *` keeps the names as created.
fn fold_column_case(statement: &mut DfStatement, tables: &[NamedTable]) {
    use std::ops::ControlFlow;

    use sql::sqlparser::ast::Expr as SqlExpr;
    use sql::sqlparser::ast::Ident;

    let mut names: HashMap<String, Option<String>> = HashMap::new();
    for (_, _, t) in tables {
        for f in t.schema().fields() {
            let name = f.name();
            if name.chars().any(|c| c.is_uppercase()) {
                let lower = name.to_lowercase();
                names
                    .entry(lower)
                    .and_modify(|e| {
                        if e.as_deref() != Some(name.as_str()) {
                            *e = None; // ambiguous: two spellings
                        }
                    })
                    .or_insert_with(|| Some(name.clone()));
            }
        }
    }
    if names.is_empty() {
        return;
    }
    let fix = |ident: &mut Ident| {
        if ident.quote_style.is_none()
            && let Some(Some(real)) = names.get(&ident.value.to_lowercase())
        {
            ident.value = real.clone();
            ident.quote_style = Some('"');
        }
    };
    let DfStatement::Statement(inner) = statement else {
        return;
    };
    let _ = sql::sqlparser::ast::visit_expressions_mut(inner.as_mut(), |e| {
        match e {
            SqlExpr::Identifier(i) => fix(i),
            SqlExpr::CompoundIdentifier(parts) => {
                if let Some(last) = parts.last_mut() {
                    fix(last);
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Column aliases keep their case in MySQL (`SELECT COUNT(*) AS Total` names the column
/// `Total`, and a Python dict cursor or a DataFrame is keyed by it), where DataFusion folds an
/// unquoted alias to lower case. The top-level SELECT's aliases with upper-case letters are
/// quoted, and the unquoted references to them that MySQL resolves to the alias, in any case,
/// are rewritten to match: a bare ORDER BY item; a bare GROUP BY item and identifiers in HAVING
/// unless a table has a column of that name (MySQL prefers the column there).
fn keep_alias_case(statement: &mut DfStatement, tables: &[NamedTable]) {
    use std::collections::HashSet;
    use std::ops::ControlFlow;

    use sql::sqlparser::ast::Expr as SqlExpr;
    use sql::sqlparser::ast::GroupByExpr;
    use sql::sqlparser::ast::OrderByKind;
    use sql::sqlparser::ast::SelectItem;
    use sql::sqlparser::ast::SetExpr;

    let DfStatement::Statement(inner) = statement else {
        return;
    };
    let sql::sqlparser::ast::Statement::Query(q) = inner.as_mut() else {
        return;
    };
    let SetExpr::Select(sel) = q.body.as_mut() else {
        return;
    };
    // Lower-case spelling -> the alias as written; None when two aliases differ only in case.
    let mut aliases: HashMap<String, Option<String>> = HashMap::new();
    for item in &sel.projection {
        if let SelectItem::ExprWithAlias { alias, .. } = item
            && alias.quote_style.is_none()
        {
            let lower = alias.value.to_lowercase();
            let written = alias.value.clone();
            aliases
                .entry(lower)
                .and_modify(|e| {
                    if e.as_deref() != Some(written.as_str()) {
                        *e = None;
                    }
                })
                .or_insert(Some(written));
        }
    }
    aliases.retain(|lower, written| written.as_deref().is_some_and(|w| w != lower.as_str()));
    if aliases.is_empty() {
        return;
    }
    for item in &mut sel.projection {
        if let SelectItem::ExprWithAlias { alias, .. } = item
            && alias.quote_style.is_none()
            && aliases.contains_key(&alias.value.to_lowercase())
        {
            alias.quote_style = Some('"');
        }
    }
    let columns: HashSet<String> = tables
        .iter()
        .flat_map(|(_, _, t)| {
            t.schema()
                .fields()
                .iter()
                .map(|f| f.name().to_lowercase())
                .collect::<Vec<_>>()
        })
        .collect();
    let fix = |e: &mut SqlExpr, column_first: bool| {
        if let SqlExpr::Identifier(i) = e
            && i.quote_style.is_none()
        {
            let lower = i.value.to_lowercase();
            if let Some(Some(written)) = aliases.get(&lower)
                && !(column_first && columns.contains(&lower))
            {
                i.value = written.clone();
                i.quote_style = Some('"');
            }
        }
    };
    if let Some(order_by) = &mut q.order_by
        && let OrderByKind::Expressions(items) = &mut order_by.kind
    {
        for item in items {
            fix(&mut item.expr, false);
        }
    }
    let SetExpr::Select(sel) = q.body.as_mut() else {
        return;
    };
    if let GroupByExpr::Expressions(items, _) = &mut sel.group_by {
        for e in items {
            fix(e, true);
        }
    }
    if let Some(having) = &mut sel.having {
        let _ = sql::sqlparser::ast::visit_expressions_mut(having, |e| {
            fix(e, true);
            ControlFlow::<()>::Continue(())
        });
    }
}

/// MySQL's cast targets DataFusion does not know: `CAST(x AS SIGNED [INTEGER])` is BIGINT and
/// `CAST(x AS UNSIGNED [INTEGER])` BIGINT UNSIGNED; `CONVERT(x, type)` is `CAST(x AS type)`
/// (Connector/J's metadata queries use them).
fn mysql_cast_types(statement: &mut DfStatement) {
    use std::ops::ControlFlow;

    use sql::sqlparser::ast::DataType as SqlType;
    use sql::sqlparser::ast::Expr as SqlExpr;

    let DfStatement::Statement(inner) = statement else {
        return;
    };
    let _ = sql::sqlparser::ast::visit_expressions_mut(inner.as_mut(), |e| {
        // MySQL's `CONVERT(x, type)` is `CAST(x AS type)`.
        if let SqlExpr::Convert {
            is_try: false,
            expr,
            data_type: Some(data_type),
            charset: None,
            styles,
            ..
        } = e
            && styles.is_empty()
        {
            let cast = SqlExpr::Cast {
                kind: sql::sqlparser::ast::CastKind::Cast,
                expr: Box::new(std::mem::replace(
                    expr.as_mut(),
                    SqlExpr::value(sql::sqlparser::ast::Value::Null),
                )),
                data_type: data_type.clone(),
                array: false,
                format: None,
            };
            *e = cast;
        }
        if let SqlExpr::Cast { data_type, .. } = e {
            match data_type {
                SqlType::Signed | SqlType::SignedInteger => *data_type = SqlType::BigInt(None),
                SqlType::Unsigned | SqlType::UnsignedInteger => {
                    *data_type = SqlType::BigIntUnsigned(None)
                }
                _ => {}
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

fn physical_text(plan: &Arc<dyn ExecutionPlan>) -> String {
    datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string()
}

/// `EXPLAIN` output as StarRocks shows it: one text column, one row per line.
fn explain_rows(parts: &[String]) -> Outcome {
    let mut rows = RowSet::with_text_columns(&["Explain String"]);
    for part in parts {
        for line in part.lines() {
            rows.push(vec![line.into()]);
        }
    }
    Outcome::Rows(rows)
}

/// `FROM DUAL` names no table in MySQL (`SELECT 1 FROM DUAL`, a connection pool's validation
/// query; Connector/J's empty metadata results `... FROM DUAL WHERE 1 = 0`): drops it, so the
/// query runs as a query without FROM. Other queries are left as they are.
pub fn strip_dual(q: &mut Query) {
    use sql::sqlparser::ast::SetExpr;
    use sql::sqlparser::ast::TableFactor;

    let SetExpr::Select(sel) = q.body.as_mut() else {
        return;
    };
    let [from] = sel.from.as_slice() else {
        return;
    };
    let is_dual = from.joins.is_empty()
        && matches!(
            &from.relation,
            TableFactor::Table { name, alias: None, args: None, .. }
                if name.0.len() == 1 && name.to_string().eq_ignore_ascii_case("dual")
        );
    if is_dual {
        sel.from.clear();
    }
}

/// Whether a query is answered without tables by [`crate::exec::select`] (the variables and
/// functions MySQL clients ask for on connect).
pub fn is_tableless(q: &Query) -> bool {
    matches!(q.body.as_ref(), sql::sqlparser::ast::SetExpr::Select(s) if s.from.is_empty())
        && q.with.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(sql: &str) -> Box<Query> {
        match sql::parse_statements(sql).expect("parses").pop() {
            Some(sql::Statement::Query(q)) => q,
            other => panic!("not a query: {other:?}"),
        }
    }

    fn keep_case(sql: &str, columns: &[&str]) -> String {
        let q = query(sql);
        let fields: Vec<arrow::datatypes::Field> = columns
            .iter()
            .map(|c| arrow::datatypes::Field::new(*c, arrow::datatypes::DataType::Int64, true))
            .collect();
        let schema = Arc::new(arrow::datatypes::Schema::new(fields));
        let table: Arc<dyn TableProvider> =
            Arc::new(datafusion::datasource::empty::EmptyTable::new(schema));
        let tables: Vec<NamedTable> = vec![("db".into(), "t".into(), table)];
        let mut stmt = DfStatement::Statement(Box::new(sql::sqlparser::ast::Statement::Query(q)));
        keep_alias_case(&mut stmt, &tables);
        stmt.to_string()
    }

    #[test]
    fn aliases_keep_their_case() {
        assert_eq!(
            keep_case(
                "SELECT COUNT(*) AS Total, k AS lower FROM t GROUP BY k HAVING total > 1 ORDER BY TOTAL",
                &["k"]
            ),
            r#"SELECT COUNT(*) AS "Total", k AS lower FROM t GROUP BY k HAVING "Total" > 1 ORDER BY "Total""#
        );
        // GROUP BY and HAVING prefer a column of the same name, as MySQL does.
        assert_eq!(
            keep_case(
                "SELECT UPPER(k) AS K FROM t GROUP BY k HAVING k > 1 ORDER BY k",
                &["k"]
            ),
            r#"SELECT UPPER(k) AS "K" FROM t GROUP BY k HAVING k > 1 ORDER BY "K""#
        );
        // Nothing to keep: lower-case or quoted aliases, aliases differing only in case.
        for sql in [
            "SELECT k AS total FROM t ORDER BY total",
            "SELECT k AS `Total` FROM t",
            "SELECT k AS Total, k AS TOTAL FROM t ORDER BY total",
        ] {
            let before = query(sql).to_string();
            assert_eq!(keep_case(sql, &["k"]), before, "{sql}");
        }
    }

    #[test]
    fn from_dual_is_dropped() {
        for sql in ["SELECT 1 FROM DUAL", "select 1 from dual where 1 = 0"] {
            let mut q = query(sql);
            strip_dual(&mut q);
            assert!(is_tableless(&q), "{sql} -> {q}");
        }
        for sql in [
            "SELECT 1 FROM dual_t",
            "SELECT 1 FROM db.dual",
            "SELECT 1 FROM dual d",
            "SELECT 1 FROM dual, t",
        ] {
            let mut q = query(sql);
            let before = q.to_string();
            strip_dual(&mut q);
            assert_eq!(q.to_string(), before, "{sql} was changed");
        }
    }
}
