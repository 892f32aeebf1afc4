//! Stream Load: `PUT /api/{db}/{table}/_stream_load` on be_http_port. This backend coordinates
//! the load: it begins a transaction at the leader FE (which checks the credentials and
//! returns the load plan), parses the body as it arrives (CSV or JSON), converts and filters the
//! rows, routes each to its partition and tablet, streams the tablets' batches to every replica
//! (`WriteTablet`), and commits with the replicas that succeeded. The reply is StarRocks's JSON.
//!
//! Limits: the body is at most `streaming_load_max_mb`; a JSON value or a CSV row (say, after
//! an `enclose` character that is never closed) at most 100 MB; rows are buffered per tablet
//! up to 8192 rows or 4 MB (64 MB for all tablets together), so memory does not grow with the
//! body.

pub mod batch;
pub mod error_log;
pub mod expr;
pub mod fe_client;
pub mod options;
pub mod plan;
pub use loadfmt::reader;
pub mod sink;
pub mod value;

use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use axum::body::Body;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::Response;
use base64::Engine;
use common::load::LoadPlan;
use futures::StreamExt;
use proto::AbortLoadRequest;
use proto::BeginTxnRequest;
use proto::CLUSTER_ID_HEADER;
use proto::CommitTxnRequest;
use proto::backend_service_client::BackendServiceClient;
use serde::Deserialize;

use crate::backend::Backend;
use crate::load::error_log::ErrorLog;
use crate::load::options::Format;
use crate::load::options::LoadOptions;
use crate::load::plan::Router;
use crate::load::plan::RowPlan;
use crate::load::reader::BodyReader;
use crate::load::reader::CsvReader;
use crate::load::reader::JsonReader;
use crate::load::reader::Rows;
use crate::load::sink::TabletSink;

/// Longest wait for visibility after the commit.
const MAX_WAIT_VISIBLE: Duration = Duration::from_secs(10);

/// The reply, with StarRocks's fields in StarRocks's order.
#[derive(Debug, Default)]
pub struct LoadResult {
    txn_id: i64,
    label: String,
    status: &'static str,
    existing_job_status: Option<String>,
    message: String,
    total: u64,
    loaded: u64,
    filtered: u64,
    unselected: u64,
    load_bytes: u64,
    load_time_ms: u64,
    begin_txn_ms: u64,
    plan_ms: u64,
    read_ms: u64,
    write_ms: u64,
    commit_ms: u64,
    error_url: Option<String>,
    /// The body was larger than `streaming_load_max_mb`: the reply is HTTP 413.
    too_large: bool,
}

impl LoadResult {
    fn to_json(&self) -> String {
        let s = |v: &str| serde_json::Value::String(v.to_string()).to_string();
        let mut fields: Vec<(&str, String)> = vec![
            ("TxnId", self.txn_id.to_string()),
            ("Label", s(&self.label)),
            ("Status", s(self.status)),
        ];
        if let Some(e) = &self.existing_job_status {
            fields.push(("ExistingJobStatus", s(e)));
        }
        fields.extend([
            ("Message", s(&self.message)),
            ("NumberTotalRows", self.total.to_string()),
            ("NumberLoadedRows", self.loaded.to_string()),
            ("NumberFilteredRows", self.filtered.to_string()),
            ("NumberUnselectedRows", self.unselected.to_string()),
            ("LoadBytes", self.load_bytes.to_string()),
            ("LoadTimeMs", self.load_time_ms.to_string()),
            ("BeginTxnTimeMs", self.begin_txn_ms.to_string()),
            ("StreamLoadPlanTimeMs", self.plan_ms.to_string()),
            ("ReadDataTimeMs", self.read_ms.to_string()),
            ("WriteDataTimeMs", self.write_ms.to_string()),
            ("CommitAndPublishTimeMs", self.commit_ms.to_string()),
        ]);
        if let Some(u) = &self.error_url {
            fields.push(("ErrorURL", s(u)));
        }
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("    \"{k}\": {v}"))
            .collect();
        format!("{{\n{}\n}}\n", body.join(",\n"))
    }

    fn fail(&mut self, message: impl Into<String>) {
        self.status = "Fail";
        self.message = message.into();
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `user:password` from HTTP Basic credentials.
pub(crate) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':').unwrap_or((text.as_str(), ""));
    Some((user.to_string(), password.to_string()))
}

fn request_id() -> String {
    use std::sync::atomic::AtomicU64;
    use std::sync::atomic::Ordering;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{nanos:x}-{:x}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Counts rows and hands good ones to the sink.
struct LoadRows<'p> {
    plan: &'p LoadPlan,
    rows: &'p RowPlan,
    router: Router,
    sink: TabletSink,
    log: ErrorLog,
    total: u64,
    loaded: u64,
    filtered: u64,
    unselected: u64,
    fatal: Option<String>,
}

impl LoadRows<'_> {
    fn filter(&mut self, why: &str, raw: &[u8]) {
        self.filtered += 1;
        self.log.push(why, raw);
    }
}

impl Rows for LoadRows<'_> {
    fn row(&mut self, fields: &[Option<&str>], raw: &[u8]) {
        if self.fatal.is_some() {
            return;
        }
        self.total += 1;
        let values = match self.rows.convert_row(fields) {
            Ok(v) => v,
            Err(why) => return self.filter(&why, raw),
        };
        if !self.rows.selected(&values, fields) {
            self.unselected += 1;
            return;
        }
        match self.router.route(self.plan, &values) {
            Ok((p, t)) => match self.sink.add(p, t, &values) {
                Ok(()) => self.loaded += 1,
                Err(e) => self.fatal = Some(e),
            },
            Err(why) => self.filter(&why, raw),
        }
    }

    fn bad(&mut self, reason: String, raw: &[u8]) {
        if self.fatal.is_none() {
            self.total += 1;
            self.filter(&reason, raw);
        }
    }
}

/// `PUT /api/{db}/{table}/_stream_load`.
pub(crate) async fn stream_load(
    State(be): State<Arc<Backend>>,
    Path((db, table)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The load runs in its own task: a client that goes away mid-body still gets its
    // transaction aborted rather than left open.
    let task = tokio::spawn(run_load(be.clone(), db, table, headers, body));
    let result = match task.await {
        Ok(r) => r,
        Err(e) => {
            let mut r = LoadResult {
                txn_id: -1,
                ..LoadResult::default()
            };
            r.fail(format!(
                "internal error (a bug in Tessera): the load task failed: {e}"
            ));
            r
        }
    };
    be.metrics.load_done(
        result.status,
        result.load_bytes,
        result.loaded,
        result.load_time_ms,
    );
    // StarRocks answers every load with 200 and its JSON; a body past streaming_load_max_mb
    // is the exception here, 413 (with the same JSON), so that HTTP clients and proxies see
    // it for what it is.
    let status = if result.too_large {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::OK
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        result.to_json(),
    )
        .into_response()
}

async fn run_load(
    be: Arc<Backend>,
    db: String,
    table: String,
    headers: HeaderMap,
    body: Body,
) -> LoadResult {
    let started = Instant::now();
    let r = LoadResult {
        txn_id: -1,
        label: headers
            .get("label")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim()
            .to_string(),
        ..LoadResult::default()
    };
    coordinate(&be, &db, &table, &headers, body, r, started).await
}

async fn coordinate(
    be: &Arc<Backend>,
    db: &str,
    table: &str,
    headers: &HeaderMap,
    body: Body,
    mut r: LoadResult,
    started: Instant,
) -> LoadResult {
    let finish = |mut r: LoadResult| {
        r.load_time_ms = ms(started.elapsed());
        if r.status == "Fail" || r.status.is_empty() {
            tracing::info!(txn_id = r.txn_id, label = %r.label, "stream load failed: {}", r.message);
        }
        r
    };
    let opts = match LoadOptions::from_headers(headers) {
        Ok(o) => o,
        Err(e) => {
            r.fail(e);
            return finish(r);
        }
    };
    let Some((user, password)) = basic_auth(headers) else {
        r.fail("no valid Basic authorization: send the user and password (curl -u user:password)");
        return finish(r);
    };
    let limit = u64::try_from(be.config.streaming_load_max_mb)
        .unwrap_or(0)
        .saturating_mul(1024 * 1024);
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit
    {
        r.fail(format!(
            "The body of this load is {len} bytes, more than streaming_load_max_mb ({} MB) allows",
            be.config.streaming_load_max_mb
        ));
        r.too_large = true;
        return finish(r);
    }
    let Some(master) = be.master() else {
        r.fail(
            "this backend has not heard from the leader frontend yet (no heartbeat since it \
             started); retry in a few seconds",
        );
        return finish(r);
    };

    // Begin.
    let t = Instant::now();
    let begin = BeginTxnRequest {
        db: db.to_string(),
        table: table.to_string(),
        label: opts.label.clone(),
        timeout_seconds: opts.timeout_seconds,
        coordinator: format!("BE: {}", be.address),
        coordinator_backend_id: master.backend_id,
        request_id: request_id(),
        // An FE coordinating an INSERT through this endpoint says so; everything else is a
        // Stream Load.
        source_type: match headers
            .get("x-tessera-load-source")
            .and_then(|v| v.to_str().ok())
        {
            Some("INSERT") => "INSERT".into(),
            _ => "STREAM_LOAD".into(),
        },
        user,
        password,
    };
    let reply = fe_client::begin_txn(be, begin).await;
    r.begin_txn_ms = ms(t.elapsed());
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) => {
            r.fail(e);
            return finish(r);
        }
    };
    if !reply.ok {
        if !reply.existing_job_status.is_empty() {
            r.status = "Label Already Exists";
            r.existing_job_status = Some(reply.existing_job_status);
            r.txn_id = -1;
            if !reply.label.is_empty() {
                r.label = reply.label;
            }
            r.message = format!("Label [{}] has already been used.", r.label);
        } else {
            r.fail(reply.error);
        }
        return finish(r);
    }
    r.txn_id = reply.txn_id;
    r.label = reply.label.clone();
    let plan: LoadPlan = match serde_json::from_slice(&reply.plan) {
        Ok(p) => p,
        Err(e) => {
            let why = format!("the frontend's load plan cannot be read: {e}");
            let _ = fe_client::abort_txn(be, db, r.txn_id, &why).await;
            r.fail(why);
            return finish(r);
        }
    };
    let plan = Arc::new(plan);
    let outcome = load_body(be, &plan, &opts, body, &mut r).await;
    match outcome {
        Ok(()) => {}
        Err((why, backends)) => match abort_everywhere(be, db, r.txn_id, &why, backends).await {
            fe_client::AbortOutcome::Aborted => r.fail(why),
            // The commit took effect although its answer was lost: the load succeeded.
            fe_client::AbortOutcome::Committed => {
                r.status = "Publish Timeout";
                r.message =
                    "transaction commit successfully. But the data will be visible later".into();
            }
            fe_client::AbortOutcome::Unknown => r.fail(format!(
                "{why}; the transaction's outcome is unknown (it may have committed): load again \
                 with the same label to learn it"
            )),
        },
    }
    finish(r)
}

type Failure = (String, Vec<(i64, String)>);

/// Reads, writes and commits; `Err` carries why and the backends to send AbortLoad to.
async fn load_body(
    be: &Arc<Backend>,
    plan: &Arc<LoadPlan>,
    opts: &LoadOptions,
    body: Body,
    r: &mut LoadResult,
) -> Result<(), Failure> {
    let no_backends = |e: String| (e, Vec::new());
    let t = Instant::now();
    // The load's own clock: the FE's deadline (plan.deadline_ms) is on another machine's
    // clock, and the FE aborts the transaction itself when that passes.
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(u64::from(opts.timeout_seconds))
            .saturating_sub(Duration::from_millis(r.begin_txn_ms));
    let rows = RowPlan::new(
        &plan.schema.columns,
        opts.columns.as_deref(),
        opts.filter.as_ref(),
        opts.strict_mode,
    )
    .map_err(no_backends)?;
    let mut reader: Box<dyn BodyReader> = match &opts.format {
        Format::Csv {
            column_separator,
            row_delimiter,
            skip_header,
            enclose,
            escape,
            trim_space,
        } => Box::new(
            CsvReader::new(
                column_separator.clone(),
                row_delimiter.clone(),
                *skip_header,
            )
            .quoting(*enclose, *escape, *trim_space),
        ),
        Format::Json {
            strip_outer_array,
            jsonpaths,
            json_root,
        } => Box::new(
            JsonReader::new(
                *strip_outer_array,
                jsonpaths.clone(),
                json_root.clone(),
                rows.sources.clone(),
            )
            .map_err(no_backends)?,
        ),
    };
    let router = Router::new(plan).map_err(no_backends)?;
    let cluster_id = be.storage.cluster_id().unwrap_or(0);
    let token = be.storage.token().unwrap_or_default();
    let sink = TabletSink::new(plan.clone(), Some(be.clone()), cluster_id, token, deadline)
        .map_err(no_backends)?;
    r.plan_ms = ms(t.elapsed());

    let mut state = LoadRows {
        plan,
        rows: &rows,
        router,
        sink,
        log: ErrorLog::default(),
        total: 0,
        loaded: 0,
        filtered: 0,
        unselected: 0,
        fatal: None,
    };
    let limit = u64::try_from(be.config.streaming_load_max_mb)
        .unwrap_or(0)
        .saturating_mul(1024 * 1024);
    let mut stream = body.into_data_stream();
    let mut read = Duration::ZERO;
    let mut write = Duration::ZERO;
    let result: Result<(), String> = async {
        loop {
            let t = Instant::now();
            let next = tokio::time::timeout_at(deadline, stream.next()).await;
            read += t.elapsed();
            let chunk = match next {
                Err(_) => {
                    return Err(format!(
                        "the load timed out: it did not finish within its timeout of {} s",
                        opts.timeout_seconds
                    ));
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(format!("cannot read the request body: {e}")),
                Ok(Some(Ok(c))) => c,
            };
            r.load_bytes += chunk.len() as u64;
            if r.load_bytes > limit {
                return Err(format!(
                    "The body of this load is more than streaming_load_max_mb ({} MB) allows",
                    be.config.streaming_load_max_mb
                ));
            }
            let t = Instant::now();
            reader.feed(&chunk, &mut state)?;
            if let Some(e) = state.fatal.take() {
                return Err(e);
            }
            if state.sink.has_ready() {
                state.sink.drain().await?;
            }
            write += t.elapsed();
        }
        let t = Instant::now();
        reader.finish(&mut state)?;
        if let Some(e) = state.fatal.take() {
            return Err(e);
        }
        write += t.elapsed();
        Ok(())
    }
    .await;
    // A body without Content-Length (chunked) is counted as it arrives.
    r.too_large = r.load_bytes > limit;
    r.read_ms = ms(read);
    r.total = state.total;
    r.loaded = state.loaded;
    r.filtered = state.filtered;
    r.unselected = state.unselected;
    if !state.log.is_empty() {
        r.error_url = write_error_log(be, std::mem::take(&mut state.log), r.txn_id).await;
    }
    let backends = |s: &TabletSink| -> Vec<(i64, String)> {
        s.backends()
            .iter()
            .map(|(id, a)| (*id, a.clone()))
            .collect()
    };
    if let Err(e) = result {
        r.write_ms = ms(write);
        state.sink.abort();
        // As StarRocks does, the rest of the body is read and dropped before the reply: a
        // client still sending (a load that failed early, say on a full disk) then gets the
        // reply instead of a broken connection.
        drain(&mut stream, deadline, limit.saturating_sub(r.load_bytes)).await;
        return Err((e, backends(&state.sink)));
    }
    let considered = state.total - state.unselected;
    if state.filtered > 0
        && considered > 0
        && state.filtered as f64 / considered as f64 > opts.max_filter_ratio
    {
        state.sink.abort();
        r.write_ms = ms(write);
        return Err(("too many filtered rows".into(), backends(&state.sink)));
    }
    if state.loaded == 0 {
        state.sink.abort();
        r.write_ms = ms(write);
        return Err((
            "all partitions have no load data".into(),
            backends(&state.sink),
        ));
    }
    let t = Instant::now();
    let closed = state.sink.close().await;
    write += t.elapsed();
    r.write_ms = ms(write);
    let outcome = match closed {
        Ok(o) => o,
        Err(e) => return Err((e, backends(&state.sink))),
    };
    for f in &outcome.failures {
        tracing::warn!(txn_id = r.txn_id, "a replica failed to write: {f}");
    }

    // Commit, and wait a while for visibility.
    let t = Instant::now();
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    let wait = (left / 2).min(MAX_WAIT_VISIBLE);
    let commit = CommitTxnRequest {
        db: plan.db.clone(),
        txn_id: r.txn_id,
        commit_infos: outcome.commit_infos,
        partition_ids: outcome.partition_ids,
        loaded_rows: i64::try_from(state.loaded).unwrap_or(i64::MAX),
        filtered_rows: i64::try_from(state.filtered).unwrap_or(i64::MAX),
        unselected_rows: i64::try_from(state.unselected).unwrap_or(i64::MAX),
        load_bytes: i64::try_from(r.load_bytes).unwrap_or(i64::MAX),
        wait_visible_ms: u32::try_from(wait.as_millis()).unwrap_or(u32::MAX),
    };
    // A commit whose outcome is unknown is repeated until the load's deadline (at most
    // fe_client::COMMIT_RETRY_FOR); then the transaction's fate is settled by an abort.
    let reply = fe_client::commit_txn(be, commit, wait + Duration::from_secs(60), deadline).await;
    r.commit_ms = ms(t.elapsed());
    let backends = backends(&state.sink);
    match reply {
        Ok(reply) if reply.ok => match reply.status.as_str() {
            "VISIBLE" => {
                r.status = "Success";
                r.message = "OK".into();
                Ok(())
            }
            "COMMITTED" => {
                r.status = "Publish Timeout";
                r.message =
                    "transaction commit successfully. But the data will be visible later".into();
                Ok(())
            }
            other => Err((
                format!("the frontend answered the commit with status '{other}'"),
                backends,
            )),
        },
        Ok(reply) => Err((reply.error, backends)),
        Err(fe_client::CommitError::Refused(e) | fe_client::CommitError::Unknown(e)) => {
            Err((e, backends))
        }
    }
}

async fn write_error_log(be: &Arc<Backend>, log: ErrorLog, txn_id: i64) -> Option<String> {
    let root = be.storage.root_paths().first()?.clone();
    let name = error_log::new_name(txn_id);
    let dir = root.join(error_log::DIR);
    let file = name.clone();
    let path = dir.clone();
    let result = tokio::task::spawn_blocking(move || log.write(&path, &file)).await;
    match result {
        Ok(Ok(_)) => Some(format!(
            "{}://{}:{}/api/_load_error_log?file={name}",
            if be.config.enable_https {
                "https"
            } else {
                "http"
            },
            be.address,
            be.config.be_http_port
        )),
        Ok(Err(e)) => {
            tracing::warn!(dir = %dir.display(), "cannot write the load's error log: {e}");
            None
        }
        Err(e) => {
            tracing::warn!("the error log task failed: {e}");
            None
        }
    }
}

/// Reads and drops what is left of a request body: at most `limit` bytes, until `deadline`.
async fn drain<S, B, E>(stream: &mut S, deadline: tokio::time::Instant, limit: u64)
where
    S: futures::Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut read = 0u64;
    while read < limit {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => read += chunk.as_ref().len() as u64,
            _ => return,
        }
    }
}

/// Aborts the transaction at the FE and, once the FE confirms the abort, drops the pending
/// rowsets on the replicas (best effort; the FE drops them too). The abort and a commit whose
/// answer was lost are ordered by the journal: when the FE answers that the transaction is
/// committed, the replicas keep their rowsets (they are the load's data) and the load
/// succeeded; when it cannot answer, nothing is dropped (the FE aborts a transaction that
/// stays PREPARE past its timeout, and drops the rowsets then).
async fn abort_everywhere(
    be: &Arc<Backend>,
    db: &str,
    txn_id: i64,
    why: &str,
    backends: Vec<(i64, String)>,
) -> fe_client::AbortOutcome {
    let outcome = fe_client::abort_txn(be, db, txn_id, why).await;
    if outcome != fe_client::AbortOutcome::Aborted {
        return outcome;
    }
    let cluster_id = be.storage.cluster_id().unwrap_or(0);
    let token = be.storage.token().unwrap_or_default();
    for (backend_id, addr) in backends {
        let token = token.clone();
        tokio::spawn(async move {
            let result = async {
                let mut c = BackendServiceClient::connect(format!("http://{addr}"))
                    .await
                    .map_err(|e| e.to_string())?;
                let mut req = tonic::Request::new(AbortLoadRequest { txn_id, backend_id });
                req.set_timeout(Duration::from_secs(10));
                if let Ok(v) = cluster_id.to_string().parse() {
                    req.metadata_mut().insert(CLUSTER_ID_HEADER, v);
                }
                proto::auth::stamp(&mut req, &token);
                let reply = c
                    .abort_load(req)
                    .await
                    .map_err(|s| s.message().to_string())?;
                let reply = reply.into_inner();
                if reply.ok { Ok(()) } else { Err(reply.error) }
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(txn_id, backend_id, "AbortLoad at {addr} failed: {e}");
            }
        });
    }
    outcome
}

/// `?file=` of the error log request.
#[derive(Deserialize)]
pub(crate) struct ErrorLogQuery {
    file: Option<String>,
}

/// `GET /api/_load_error_log?file=<name>`: an error log this backend wrote.
pub(crate) async fn load_error_log(
    State(be): State<Arc<Backend>>,
    Query(q): Query<ErrorLogQuery>,
) -> Response {
    let text = |code: StatusCode, msg: String| {
        (
            code,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            msg,
        )
            .into_response()
    };
    let Some(name) = q.file.filter(|f| !f.is_empty()) else {
        return text(
            StatusCode::BAD_REQUEST,
            "missing the file parameter\n".into(),
        );
    };
    if !error_log::valid_name(&name) {
        return text(
            StatusCode::BAD_REQUEST,
            format!("'{name}' is not the name of a load error log\n"),
        );
    }
    let Some(root) = be.storage.root_paths().first().cloned() else {
        return text(StatusCode::NOT_FOUND, "no storage root\n".into());
    };
    match tokio::fs::read(root.join(error_log::DIR).join(&name)).await {
        Ok(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            bytes,
        )
            .into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => text(
            StatusCode::NOT_FOUND,
            format!("the error log {name} does not exist (logs are kept for 48 hours)\n"),
        ),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the error log {name}: {e}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reply_fields_are_in_starrocks_order() {
        let mut r = LoadResult {
            txn_id: 7,
            label: "l\"1".into(),
            status: "Success",
            message: "OK".into(),
            total: 3,
            loaded: 2,
            filtered: 1,
            ..LoadResult::default()
        };
        r.error_url = Some("http://x/api/_load_error_log?file=error_log_1".into());
        let text = r.to_json();
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["Label"], "l\"1");
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"'))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert_eq!(
            keys,
            [
                "TxnId",
                "Label",
                "Status",
                "Message",
                "NumberTotalRows",
                "NumberLoadedRows",
                "NumberFilteredRows",
                "NumberUnselectedRows",
                "LoadBytes",
                "LoadTimeMs",
                "BeginTxnTimeMs",
                "StreamLoadPlanTimeMs",
                "ReadDataTimeMs",
                "WriteDataTimeMs",
                "CommitAndPublishTimeMs",
                "ErrorURL"
            ]
        );
        let r = LoadResult {
            txn_id: -1,
            status: "Label Already Exists",
            existing_job_status: Some("FINISHED".into()),
            ..LoadResult::default()
        };
        let text = r.to_json();
        assert!(text.contains("\"Status\": \"Label Already Exists\",\n    \"ExistingJobStatus\": \"FINISHED\",\n    \"Message\""), "{text}");
        assert!(!text.contains("ErrorURL"));
    }

    #[test]
    fn basic_auth_is_decoded() {
        let mut h = HeaderMap::new();
        assert_eq!(basic_auth(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic cm9vdDpwYTpzcw=="),
        );
        assert_eq!(basic_auth(&h), Some(("root".into(), "pa:ss".into())));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic cm9vdA=="),
        );
        assert_eq!(basic_auth(&h), Some(("root".into(), String::new())));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_auth(&h), None);
    }
}
