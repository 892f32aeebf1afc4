//! `INSERT INTO ... VALUES`, `SHOW TRANSACTION`, `SHOW LOAD`.
//!
//! An INSERT takes the same path as a Stream Load: this FE evaluates the VALUES, sends them as
//! a JSON Stream Load (with the INSERT's label) to a backend, which coordinates the
//! transaction with the leader. The client gets StarRocks's OK info
//! `{'label':'..', 'status':'VISIBLE', 'txnId':'..'}`.

use std::sync::Arc;
use std::time::Duration;

use common::Error;
use common::Result;
use common::StatusCode;
use meta::catalog::txn::Txn;
use meta::catalog::txn::TxnStatus;
use sql::sqlparser::ast::Expr;
use sql::sqlparser::ast::SetExpr;
use sql::sqlparser::ast::TableObject;
use sql::sqlparser::ast::UnaryOperator;
use sql::sqlparser::ast::Value;
use sql::statements::dml::Insert;

use crate::exec::tables::resolve_db;
use crate::exec::tablets::filter_rows;
use crate::frontend::Frontend;
use crate::outcome::Cell;
use crate::outcome::ColType;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

fn unsupported(what: &str) -> Error {
    Error::new(
        StatusCode::Unsupported,
        format!("{what} is not supported by this version of Tessera"),
    )
}

fn literal_json(e: &Expr) -> Result<serde_json::Value> {
    match e {
        Expr::Value(v) => Ok(match &v.value {
            Value::Null => serde_json::Value::Null,
            Value::Boolean(b) => serde_json::Value::Bool(*b),
            Value::Number(n, _) => serde_json::Value::String(n.clone()),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                serde_json::Value::String(s.clone())
            }
            other => return Err(unsupported(&format!("the value {other} in INSERT"))),
        }),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal_json(expr)? {
            serde_json::Value::String(s) => Ok(serde_json::Value::String(format!("-{s}"))),
            _ => Err(Error::invalid(format!("cannot negate {expr}"))),
        },
        Expr::Nested(x) => literal_json(x),
        other => Err(unsupported(&format!(
            "the expression {other} in INSERT VALUES (only literals)"
        ))),
    }
}

/// The rows of `VALUES (...), ...` as the JSON array a load takes.
fn values_json(values: &sql::sqlparser::ast::Values, columns: &[String]) -> Result<Vec<u8>> {
    let mut rows = Vec::with_capacity(values.rows.len());
    for (i, row) in values.rows.iter().enumerate() {
        let exprs = &row.content;
        if exprs.len() != columns.len() {
            return Err(Error::invalid(format!(
                "Column count doesn't match value count at row {}: {} columns, {} values",
                i + 1,
                columns.len(),
                exprs.len()
            )));
        }
        let mut obj = serde_json::Map::new();
        for (c, e) in columns.iter().zip(exprs) {
            obj.insert(c.clone(), literal_json(e)?);
        }
        rows.push(serde_json::Value::Object(obj));
    }
    serde_json::to_vec(&rows).map_err(Error::internal)
}

/// `INSERT INTO t [WITH LABEL l] [(cols)] VALUES (...), ...` or `... SELECT ...`.
pub async fn insert(fe: &Arc<Frontend>, session: &mut Session, stmt: &Insert) -> Result<Outcome> {
    let ins = stmt
        .insert()
        .ok_or_else(|| unsupported("this INSERT form"))?;
    if ins.overwrite {
        return Err(unsupported("INSERT OVERWRITE"));
    }
    if !stmt.partitions.is_empty() {
        return Err(unsupported("INSERT INTO ... PARTITION (...)"));
    }
    // Before the SELECT of an INSERT ... SELECT runs.
    let label_max_length = fe.config().label_max_length.max(1) as usize;
    if let Some(l) = &stmt.label {
        meta::catalog::txn::check_label(l, label_max_length)?;
    }
    let TableObject::TableName(name) = &ins.table else {
        return Err(unsupported("INSERT INTO a table function"));
    };
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| p.to_string().trim_matches('`').to_string())
        .collect();
    let tname = match parts.as_slice() {
        [t] => sql::TableName {
            database: None,
            table: t.clone(),
        },
        [d, t] => sql::TableName {
            database: Some(d.clone()),
            table: t.clone(),
        },
        _ => return Err(Error::invalid(format!("bad table name {name}"))),
    };
    let db = resolve_db(session, &tname)?;
    let schema = fe
        .journal
        .state
        .read(|s| s.catalog.table(&db, &tname.table).map(|t| t.schema.clone()))
        .ok_or_else(|| {
            Error::new(
                StatusCode::TableNotFound,
                format!("Table '{db}.{}' doesn't exist", tname.table),
            )
        })?;
    let columns: Vec<String> = if ins.columns.is_empty() {
        schema.columns.iter().map(|c| c.name.clone()).collect()
    } else {
        ins.columns
            .iter()
            .map(|c| {
                let n = c.to_string().trim_matches('`').to_string();
                schema
                    .column(&n)
                    .map(|col| col.name.clone())
                    .ok_or_else(|| {
                        Error::invalid(format!("Unknown column '{n}' in table {}", tname.table))
                    })
            })
            .collect::<Result<_>>()?
    };
    let source = ins
        .source
        .as_ref()
        .ok_or_else(|| unsupported("INSERT without VALUES"))?;
    let body = match source.body.as_ref() {
        SetExpr::Values(values) => values_json(values, &columns)?,
        _ => {
            // INSERT INTO ... SELECT: the query runs first (on its own snapshot), then its
            // rows go through the same load transaction as VALUES.
            let stmt = sql::sqlparser::ast::Statement::Query(source.clone());
            let (schema, batches) = crate::query::collect(fe, session, stmt).await?;
            if schema.fields().len() != columns.len() {
                return Err(Error::invalid(format!(
                    "Column count doesn't match value count: the table takes {} columns, the \
                     query returns {}",
                    columns.len(),
                    schema.fields().len()
                )));
            }
            crate::query::result::json_rows(&batches, &columns)?
        }
    };
    let label = match &stmt.label {
        Some(l) => l.clone(),
        None => crate::txn::generate_label("insert_"),
    };
    let reply =
        send_to_backend(fe, &session.user, &db, &tname.table, &label, &columns, body).await?;
    let status = reply["Status"].as_str().unwrap_or("");
    let txn_id = reply["TxnId"].as_i64().unwrap_or(-1);
    let loaded = reply["NumberLoadedRows"].as_u64().unwrap_or(0);
    let filtered = reply["NumberFilteredRows"].as_u64().unwrap_or(0);
    let message = reply["Message"].as_str().unwrap_or("").to_string();
    let visible = match status {
        "Success" => "VISIBLE",
        "Publish Timeout" => "COMMITTED",
        "Label Already Exists" => {
            return Err(Error::new(
                StatusCode::LabelAlreadyExists,
                format!("Label [{label}] has already been used."),
            ));
        }
        _ => {
            let url = reply["ErrorURL"]
                .as_str()
                .map(|u| format!(" (rejected rows: {u})"))
                .unwrap_or_default();
            return Err(Error::new(
                StatusCode::LoadDataInvalid,
                format!("Insert has failed: {message}{url}"),
            ));
        }
    };
    if filtered > 0 {
        return Err(Error::new(
            StatusCode::LoadDataInvalid,
            format!("Insert has filtered data in strict mode: {filtered} rows were rejected"),
        ));
    }
    // Read-your-writes: the next statement on this FE sees the rows.
    if let Ok(index) = crate::forward::read_index(fe).await {
        session.last_journal_id = session.last_journal_id.max(index);
    }
    Ok(Outcome::Ok {
        affected: loaded,
        info: format!("{{'label':'{label}', 'status':'{visible}', 'txnId':'{txn_id}'}}"),
    })
}

async fn send_to_backend(
    fe: &Arc<Frontend>,
    user: &str,
    db: &str,
    table: &str,
    label: &str,
    columns: &[String],
    body: Vec<u8>,
) -> Result<serde_json::Value> {
    let bes: Vec<(String, u16, bool)> = fe.journal.state.read(|s| {
        s.catalog
            .backends
            .values()
            .filter(|b| b.is_available() && b.status.http_port > 0)
            .map(|b| (b.host.clone(), b.status.http_port, b.status.https))
            .collect()
    });
    let Some((host, port, https)) = crate::http::pick_backend(fe, &bes).await else {
        return Err(Error::new(
            StatusCode::Unreachable,
            "No backend alive to coordinate the INSERT.",
        ));
    };
    let timeout = fe.config().insert_load_default_timeout_second.max(1) as u64;
    let scheme = if https { "https" } else { "http" };
    let url = format!("{scheme}://{host}:{port}/api/{db}/{table}/_stream_load");
    common::tls::install_default_provider();
    let mut client = reqwest::Client::builder().timeout(Duration::from_secs(timeout + 30));
    if https {
        // The backend serves HTTPS: trust ssl_ca_path (or this node's own certificate).
        let Some(tls) = fe.tls.client.clone() else {
            return Err(Error::new(
                StatusCode::Unreachable,
                format!(
                    "backend {host}:{port} serves HTTPS (enable_https) but this frontend has \
                     no certificate to trust it with: set ssl_ca_path in fe.conf"
                ),
            ));
        };
        client = client.tls_backend_preconfigured(Arc::unwrap_or_clone(tls));
    }
    let client = client.build().map_err(Error::internal)?;
    // The session's INSERT privilege was checked before this statement ran; the backend's
    // begin_txn presents the FE's internal credential so the leader does not check again.
    let secret = fe.journal.state.read(|s| s.catalog.internal_secret.clone());
    if secret.is_empty() {
        return Err(Error::new(
            StatusCode::NoLeader,
            "the cluster's internal load credential is not set yet (the leader sets it when \
             it is elected); retry in a few seconds",
        ));
    }
    use base64::Engine;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}{secret}", crate::auth::INTERNAL_PREFIX))
    );
    let resp = client
        .put(&url)
        .header("Authorization", auth)
        .header("label", label)
        .header("format", "json")
        .header("strip_outer_array", "true")
        .header("columns", columns.join(","))
        .header("timeout", timeout.to_string())
        .header("Expect", "100-continue")
        .header("x-tessera-load-source", "INSERT")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Error::new(
                StatusCode::Unreachable,
                format!("backend {host}:{port} did not take the INSERT: {e}"),
            )
        })?;
    let bytes = resp.bytes().await.map_err(|e| {
        Error::new(
            StatusCode::Unreachable,
            format!("backend {host}:{port}: {e}"),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::internal(format!(
            "backend {host}:{port} answered the INSERT with something that is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))
    })
}

fn time(ms: i64) -> Cell {
    Cell::Text(common::clock::format_ms(ms))
}

/// `SHOW TRANSACTION [FROM db] WHERE id = n`.
pub fn show_transaction(
    fe: &Arc<Frontend>,
    session: &Session,
    database: Option<&str>,
    id: u64,
) -> Result<Outcome> {
    let db = database
        .map(str::to_string)
        .or_else(|| session.database.clone())
        .ok_or_else(|| Error::new(StatusCode::NoDatabaseSelected, "No database selected"))?;
    let txn = fe
        .journal
        .state
        .read(|s| {
            s.catalog
                .txns
                .get(&(id as i64))
                .filter(|t| t.db == db)
                .cloned()
        })
        .ok_or_else(|| {
            Error::new(
                StatusCode::TxnNotFound,
                format!("transaction with id {id} does not exist"),
            )
        })?;
    let mut rows = RowSet::with_text_columns(&[
        "TransactionId",
        "Label",
        "Coordinator",
        "TransactionStatus",
        "LoadJobSourceType",
        "PrepareTime",
        "CommitTime",
        "PublishTime",
        "FinishTime",
        "Reason",
        "ErrorReplicasCount",
        "ListenerId",
        "TimeoutMs",
        "ErrMsg",
    ]);
    rows.columns[0].1 = ColType::BigInt;
    rows.push(vec![
        Cell::Int(txn.id),
        txn.label.clone().into(),
        txn.coordinator.clone().into(),
        txn.status.to_string().into(),
        txn.source_type.clone().into(),
        time(txn.prepare_time_ms),
        time(txn.commit_time_ms),
        time(txn.publish_time_ms),
        time(txn.finish_time_ms),
        txn.reason.clone().into(),
        Cell::Int(txn.error_replicas.len() as i64),
        Cell::Int(txn.table_id),
        Cell::Int(txn.timeout_ms),
        "".into(),
    ]);
    Ok(Outcome::Rows(rows))
}

fn job_state(t: &Txn) -> &'static str {
    match t.status {
        TxnStatus::Prepare => "LOADING",
        TxnStatus::Committed => "COMMITTED",
        TxnStatus::Visible => "FINISHED",
        TxnStatus::Aborted => "CANCELLED",
    }
}

/// `SHOW LOAD [FROM db] [WHERE ...] [ORDER BY ...] [LIMIT ...]`: loads (Stream Loads and
/// INSERTs) of the database.
pub fn show_load(
    fe: &Arc<Frontend>,
    session: &Session,
    database: Option<&str>,
    filter: Option<&Expr>,
    order_by: &[sql::sqlparser::ast::OrderByExpr],
    limit: Option<&sql::Limit>,
) -> Result<Outcome> {
    let db = database
        .map(str::to_string)
        .or_else(|| session.database.clone())
        .ok_or_else(|| Error::new(StatusCode::NoDatabaseSelected, "No database selected"))?;
    if !crate::exec::database::exists(fe, &db) {
        return Err(crate::exec::database::unknown_database(&db));
    }
    let txns: Vec<Txn> = fe
        .journal
        .state
        .read(|s| s.catalog.txns_of(&db).cloned().collect());
    let mut rows = RowSet::with_text_columns(&[
        "JobId",
        "Label",
        "State",
        "Progress",
        "Type",
        "Priority",
        "ScanRows",
        "FilteredRows",
        "UnselectedRows",
        "SinkRows",
        "EtlInfo",
        "TaskInfo",
        "ErrorMsg",
        "CreateTime",
        "EtlStartTime",
        "EtlFinishTime",
        "LoadStartTime",
        "LoadFinishTime",
        "TrackingSQL",
        "JobDetails",
    ]);
    for i in [0, 6, 7, 8, 9] {
        rows.columns[i].1 = ColType::BigInt;
    }
    for t in txns {
        let scan = t.loaded_rows + t.filtered_rows + t.unselected_rows;
        rows.push(vec![
            Cell::Int(t.id),
            t.label.clone().into(),
            job_state(&t).into(),
            if t.status == TxnStatus::Visible {
                "100%"
            } else {
                "0%"
            }
            .into(),
            t.source_type.clone().into(),
            "NORMAL".into(),
            Cell::Int(scan),
            Cell::Int(t.filtered_rows),
            Cell::Int(t.unselected_rows),
            Cell::Int(t.loaded_rows),
            Cell::Null,
            format!("timeout:{}s; table:{}", t.timeout_ms / 1000, t.table).into(),
            if t.reason.is_empty() {
                Cell::Null
            } else {
                t.reason.clone().into()
            },
            time(t.prepare_time_ms),
            time(t.prepare_time_ms),
            time(t.prepare_time_ms),
            time(t.prepare_time_ms),
            time(t.finish_time_ms),
            Cell::Null,
            format!("{{\"TxnId\":{},\"LoadBytes\":{}}}", t.id, t.load_bytes).into(),
        ]);
    }
    if let Some(f) = filter {
        filter_rows(&mut rows, f)?;
    }
    crate::exec::tablets::order_rows(&mut rows, order_by)?;
    if let Some(l) = limit {
        let skip = l.offset.unwrap_or(0) as usize;
        rows.rows = rows
            .rows
            .into_iter()
            .skip(skip)
            .take(l.count as usize)
            .collect();
    }
    Ok(Outcome::Rows(rows))
}
