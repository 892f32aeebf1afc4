//! `tessera load FILE --table db.t`: a local CSV or JSON file through Stream Load, with a
//! progress bar, printing the StarRocks-style result.
//!
//! It does what `curl --location-trusted -T FILE .../_stream_load` does, in two steps: a
//! bodiless `PUT` to the frontend, which answers with a redirect (307) to a backend, then the
//! file streamed to that backend while the bar shows bytes, rows per second and the time left.
//!
//! Every load carries a label (one is made up when `--label` is not given), so a load whose
//! answer was lost (a connection cut after the file was sent) can be asked again without
//! loading twice: the retry with the same label answers `Label Already Exists` with
//! `ExistingJobStatus: FINISHED` when the first attempt went through, and that counts as
//! success. A load still `RUNNING` under that label is waited for.
//!
//! Exit codes: 0 loaded; 1 the load was refused or failed (the result says why); 2 bad
//! arguments or an unreadable file; 3 no answer (the frontend or backend could not be
//! reached, or the outcome is still unknown after the retries).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncReadExt;

/// `tessera load` options.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The file to load: CSV (`.csv`, `.txt`, `.tsv`) or JSON (`.json`, `.jsonl`, `.ndjson`).
    file: PathBuf,
    /// The table to load into, as `db.table`.
    #[arg(long)]
    table: String,
    /// The load's label (unique per database; a second load with it is refused). Default: a
    /// new label, printed.
    #[arg(long)]
    label: Option<String>,
    /// A frontend's HTTP address (`host:http_port`).
    #[arg(long, default_value = "127.0.0.1:8030")]
    host: String,
    /// CA certificates (PEM) to trust: talk HTTPS to the frontend (its `enable_https`) and to
    /// the backend it redirects to (like `curl --cacert`).
    #[arg(long, value_name = "PEM")]
    cacert: Option<PathBuf>,
    /// The user to load as.
    #[arg(short = 'u', long, default_value = "root")]
    user: String,
    /// The user's password.
    #[arg(
        long,
        env = "TESSERA_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    password: String,
    /// The file's format; by default taken from its extension (CSV when it says nothing).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// CSV: the column separator (Stream Load's `column_separator`), e.g. `,` or `\t`.
    /// Default: `,` for `.csv`, `\t` otherwise (as StarRocks).
    #[arg(long)]
    column_separator: Option<String>,
    /// Stream Load's `columns` header: the file's columns and derived ones.
    #[arg(long)]
    columns: Option<String>,
    /// Any other Stream Load header, as `key:value` (repeatable), e.g. `-H skip_header:1`.
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE")]
    headers: Vec<String>,
    /// The progress display: a bar on a terminal, lines otherwise (`auto`), or none.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
    /// How many times a load whose answer was lost is asked again (same label).
    #[arg(long, default_value_t = 3)]
    retries: u32,
    /// The whole load's deadline, in seconds (also sent as Stream Load's `timeout`).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ProgressMode {
    Auto,
    Bar,
    Lines,
    Never,
}

/// Why `tessera load` stopped without loading.
#[derive(Debug)]
enum LoadError {
    /// Bad arguments or file: exit 2.
    Usage(String),
    /// The load was answered and did not load: exit 1, the answer printed.
    Failed(String),
    /// No answer, or an unknown outcome: exit 3.
    Unreachable(String),
}

/// One Stream Load request: what is sent, besides the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    db: String,
    table: String,
    label: String,
    format: Format,
    /// Headers in the order they are sent (label first).
    headers: Vec<(String, String)>,
    /// Whether rows are lines (CSV, line-delimited JSON), so the bar can count them.
    rows_are_lines: bool,
}

pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tessera load: cannot start the runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run_async(&args)) {
        Ok(body) => {
            println!("{}", body.trim_end());
            ExitCode::SUCCESS
        }
        Err(LoadError::Failed(body)) => {
            println!("{}", body.trim_end());
            ExitCode::from(1)
        }
        Err(LoadError::Usage(m)) => {
            eprintln!("tessera load: {m}");
            ExitCode::from(2)
        }
        Err(LoadError::Unreachable(m)) => {
            eprintln!("tessera load: {m}");
            ExitCode::from(3)
        }
    }
}

/// `db.table` split, both parts non-empty.
fn parse_table(s: &str) -> Result<(String, String), LoadError> {
    match s.split_once('.') {
        Some((db, t)) if !db.is_empty() && !t.is_empty() && !t.contains('.') => {
            Ok((db.to_owned(), t.to_owned()))
        }
        _ => Err(LoadError::Usage(format!(
            "--table must be db.table, got '{s}'"
        ))),
    }
}

/// The format a file's name implies: JSON for `.json`, `.jsonl`, `.ndjson`, else CSV.
fn format_of(path: &Path) -> Format {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("json" | "jsonl" | "ndjson") => Format::Json,
        _ => Format::Csv,
    }
}

/// A label for a load without `--label`: the table, the time and the process, unique enough
/// that two runs never share one.
fn new_label(table: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // At most 40 characters of the table name: the label stays within StarRocks's 128.
    let safe: String = table
        .chars()
        .take(40)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!(
        "tessera_load_{safe}_{}_{:06}_{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id()
    )
}

/// The request for `args`, given the file's first non-blank byte (to tell a JSON array from
/// line-delimited JSON).
fn build_request(args: &Args, first_byte: Option<u8>) -> Result<Request, LoadError> {
    let (db, table) = parse_table(&args.table)?;
    let label = match &args.label {
        Some(l) if l.trim().is_empty() => {
            return Err(LoadError::Usage("--label must not be empty".into()));
        }
        Some(l) => l.clone(),
        None => new_label(&table),
    };
    if args.timeout == 0 {
        return Err(LoadError::Usage(
            "--timeout must be at least 1 second".into(),
        ));
    }
    let format = args.format.unwrap_or_else(|| format_of(&args.file));
    let mut headers = vec![("label".to_owned(), label.clone())];
    let mut extra: Vec<(String, String)> = Vec::new();
    for h in &args.headers {
        let Some((k, v)) = h.split_once(':') else {
            return Err(LoadError::Usage(format!(
                "-H '{h}': a header is key:value, e.g. -H skip_header:1"
            )));
        };
        let k = k.trim().to_ascii_lowercase();
        if k.is_empty() {
            return Err(LoadError::Usage(format!("-H '{h}': the key is empty")));
        }
        if matches!(
            k.as_str(),
            "label" | "format" | "authorization" | "content-length" | "host" | "expect"
        ) {
            return Err(LoadError::Usage(format!(
                "-H '{h}': set {k} with its own option, not -H"
            )));
        }
        extra.push((k, v.trim().to_owned()));
    }
    let has = |key: &str| extra.iter().any(|(k, _)| k == key);
    let mut rows_are_lines = true;
    match format {
        Format::Csv => {
            headers.push(("format".into(), "csv".into()));
            let sep = match &args.column_separator {
                Some(s) => Some(s.clone()),
                None if has("column_separator") => None,
                None => {
                    let is_csv = args
                        .file
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
                    is_csv.then(|| ",".to_owned())
                }
            };
            if let Some(sep) = sep {
                headers.push(("column_separator".into(), sep));
            }
        }
        Format::Json => {
            headers.push(("format".into(), "json".into()));
            if first_byte == Some(b'[') {
                rows_are_lines = false;
                if !has("strip_outer_array") {
                    headers.push(("strip_outer_array".into(), "true".into()));
                }
            }
        }
    }
    if let Some(c) = &args.columns {
        headers.push(("columns".into(), c.clone()));
    }
    if !has("timeout") {
        headers.push(("timeout".into(), args.timeout.to_string()));
    }
    headers.extend(extra);
    Ok(Request {
        db,
        table,
        label,
        format,
        headers,
        rows_are_lines,
    })
}

/// The file's first byte that is not whitespace, if any within its first 64 KiB.
async fn first_non_blank(path: &Path) -> std::io::Result<Option<u8>> {
    let mut f = tokio::fs::File::open(path).await?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = f.read(&mut buf).await?;
    Ok(buf
        .get(..n)
        .unwrap_or_default()
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace()))
}

/// What the bar counts, shared with the body stream.
#[derive(Default)]
struct Counters {
    bytes: AtomicU64,
    newlines: AtomicU64,
}

/// A Stream Load answer, as far as the loader needs it.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Loaded (Success, or Publish Timeout: committed, visible soon).
    Loaded,
    /// The label is taken by a finished load.
    LabelFinished,
    /// The label is taken by a load still running.
    LabelRunning,
    /// Refused or failed.
    Failed,
}

/// Reads a Stream Load answer's `Status` (and `ExistingJobStatus`).
fn outcome(body: &str) -> Option<Outcome> {
    let v: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    let status = v.get("Status")?.as_str()?;
    Some(match status {
        "Success" | "Publish Timeout" => Outcome::Loaded,
        "Label Already Exists" => match v.get("ExistingJobStatus").and_then(|s| s.as_str()) {
            Some("RUNNING") => Outcome::LabelRunning,
            _ => Outcome::LabelFinished,
        },
        _ => Outcome::Failed,
    })
}

async fn run_async(args: &Args) -> Result<String, LoadError> {
    let meta = std::fs::metadata(&args.file)
        .map_err(|e| LoadError::Usage(format!("cannot read {}: {e}", args.file.display())))?;
    if !meta.is_file() {
        return Err(LoadError::Usage(format!(
            "{} is not a regular file",
            args.file.display()
        )));
    }
    let size = meta.len();
    let first = first_non_blank(&args.file)
        .await
        .map_err(|e| LoadError::Usage(format!("cannot read {}: {e}", args.file.display())))?;
    let request = build_request(args, first)?;
    if args.label.is_none() {
        eprintln!("label: {}", request.label);
    }
    let tls = match &args.cacert {
        Some(p) => Some(
            common::tls::trusting("--cacert", &p.display().to_string())
                .map_err(|e| LoadError::Usage(e.message))?,
        ),
        None => None,
    };
    common::tls::install_default_provider();
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5));
    if let Some(tls) = &tls {
        client = client.tls_backend_preconfigured(Arc::unwrap_or_clone(tls.clone()));
    }
    let client = client
        .build()
        .map_err(|e| LoadError::Unreachable(format!("cannot make an HTTP client: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    // A label that is free now and taken after a lost answer was taken by this run.
    let label_was_free = match label_state(&client, args, &request).await {
        Ok(state) => matches!(state.as_str(), "UNKNOWN" | "ABORTED"),
        Err(LabelState::Refused(body)) => return Err(LoadError::Failed(body)),
        Err(LabelState::Unreachable(why)) => return Err(LoadError::Unreachable(why)),
    };
    let mut attempt = 0u32;
    loop {
        let tried = attempt_load(&client, tls.as_ref(), args, &request, size, deadline).await;
        let body = match tried {
            Ok(body) => body,
            Err(Attempt::Refused(body)) => return Err(LoadError::Failed(body)),
            Err(Attempt::Lost(why)) => {
                if attempt >= args.retries || Instant::now() >= deadline {
                    return Err(LoadError::Unreachable(format!(
                        "{why}; the outcome of label '{}' is unknown (look it up with SHOW \
                         LOAD, or run again with --label {} to finish it)",
                        request.label, request.label
                    )));
                }
                attempt += 1;
                eprintln!(
                    "{why}; asking again with the same label (attempt {} of {})",
                    attempt + 1,
                    args.retries + 1
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        match outcome(&body) {
            Some(Outcome::Loaded) => return Ok(body),
            // Only an answer lost on an earlier attempt makes a taken label ours.
            Some(Outcome::LabelFinished) if attempt > 0 && label_was_free => {
                eprintln!(
                    "an earlier attempt with label '{}' had loaded the file (its answer was lost)",
                    request.label
                );
                return Ok(body);
            }
            Some(Outcome::LabelRunning)
                if attempt > 0 && label_was_free && Instant::now() < deadline =>
            {
                eprintln!(
                    "the earlier attempt with label '{}' is still running; waiting",
                    request.label
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            Some(_) => return Err(LoadError::Failed(body)),
            None => {
                return Err(LoadError::Failed(format!(
                    "the backend's answer is not a Stream Load result: {}",
                    body.trim()
                )));
            }
        }
    }
}

/// Why the label's state could not be read.
enum LabelState {
    /// The frontend answered with a refusal (bad credentials, unknown database): a Stream
    /// Load-style result to print.
    Refused(String),
    /// No answer.
    Unreachable(String),
}

/// The label's state on the frontend (`GET /api/{db}/get_load_state?label=`): `UNKNOWN`,
/// `PREPARE`, `COMMITTED`, `VISIBLE` or `ABORTED`.
async fn label_state(
    client: &reqwest::Client,
    args: &Args,
    req: &Request,
) -> Result<String, LabelState> {
    let url = format!(
        "{}://{}/api/{}/get_load_state?label={}",
        scheme(args),
        args.host,
        encode_path(&req.db),
        encode_path(&req.label)
    );
    let answer = client
        .get(&url)
        .basic_auth(&args.user, Some(&args.password))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| {
            LabelState::Unreachable(format!("no answer from the frontend at {url}: {e}"))
        })?;
    let code = answer.status();
    let text = answer.text().await.unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_default();
    match v.get("data").and_then(|d| d.as_str()) {
        Some(state) if code.is_success() => Ok(state.to_owned()),
        _ if code.is_server_error() => Err(LabelState::Unreachable(format!(
            "the frontend answered {code}: {}",
            text.trim()
        ))),
        _ => {
            let msg = v
                .get("msg")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("the frontend answered {code}: {}", text.trim()));
            Err(LabelState::Refused(
                serde_json::to_string_pretty(&serde_json::json!({
                    "Label": req.label,
                    "Status": "Fail",
                    "Message": msg,
                }))
                .unwrap_or_default(),
            ))
        }
    }
}

/// How one attempt ended without a Stream Load answer to return.
enum Attempt {
    /// Answered with a refusal before any data went (e.g. unknown table): final.
    Refused(String),
    /// No answer: the load may or may not have happened.
    Lost(String),
}

/// `https` with `--cacert`.
fn scheme(args: &Args) -> &'static str {
    if args.cacert.is_some() {
        "https"
    } else {
        "http"
    }
}

fn url(args: &Args, req: &Request) -> String {
    format!(
        "{}://{}/api/{}/{}/_stream_load",
        scheme(args),
        args.host,
        encode_path(&req.db),
        encode_path(&req.table)
    )
}

/// Percent-encodes a path segment (names may hold any character StarRocks allows).
fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One attempt: ask the frontend where to send the file, then send it.
async fn attempt_load(
    client: &reqwest::Client,
    tls: Option<&Arc<rustls::ClientConfig>>,
    args: &Args,
    req: &Request,
    size: u64,
    deadline: Instant,
) -> Result<String, Attempt> {
    let left = deadline.saturating_duration_since(Instant::now());
    let fe_url = url(args, req);
    let mut ask = client
        .put(&fe_url)
        .basic_auth(&args.user, Some(&args.password))
        .header(reqwest::header::CONTENT_LENGTH, "0")
        .timeout(left.min(Duration::from_secs(30)));
    for (k, v) in &req.headers {
        ask = ask.header(k.as_str(), v.as_str());
    }
    let answer = ask
        .send()
        .await
        .map_err(|e| Attempt::Lost(format!("no answer from the frontend at {fe_url}: {e}")))?;
    let status = answer.status();
    let location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = answer.text().await.unwrap_or_default();
    let be_url = match (status.as_u16(), location) {
        (307 | 308 | 302 | 301, Some(l)) => l,
        (code, _) if code >= 500 => {
            return Err(Attempt::Lost(format!(
                "the frontend answered {code}: {}",
                text.trim()
            )));
        }
        (_, _) => {
            let body = if text.trim().is_empty() {
                format!("{{\"Status\": \"Fail\", \"Message\": \"the frontend answered {status}\"}}")
            } else {
                text
            };
            return Err(Attempt::Refused(body));
        }
    };

    let counters = Arc::new(Counters::default());
    let display = Display::new(args.progress, size, req.rows_are_lines);
    let file = tokio::fs::File::open(&args.file)
        .await
        .map_err(|e| Attempt::Refused(fail_json(&format!("cannot read the file: {e}"))))?;
    let started = Instant::now();
    let left = deadline.saturating_duration_since(Instant::now());
    let exchange = tokio::time::timeout(
        left,
        put_with_continue(&be_url, tls, args, req, size, file, &counters),
    );
    tokio::pin!(exchange);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let answer = loop {
        tokio::select! {
            r = &mut exchange => break r,
            _ = tick.tick() => display.update(&counters, started),
        }
    };
    display.finish(&counters, started);
    let (code, text) = match answer {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            return Err(Attempt::Lost(format!(
                "the backend at {be_url} did not answer the load: {e}"
            )));
        }
        Err(_) => {
            return Err(Attempt::Lost(format!(
                "the backend at {be_url} did not answer within --timeout {}s",
                args.timeout
            )));
        }
    };
    if code >= 500 && outcome(&text).is_none() {
        return Err(Attempt::Lost(format!(
            "the backend answered {code}: {}",
            text.trim()
        )));
    }
    Ok(text)
}

/// The largest response head and body read from a backend.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 << 20;
/// How long to wait for `100 Continue` before sending the file anyway (as curl does).
const CONTINUE_WAIT: Duration = Duration::from_secs(3);

/// `http[s]://host[:port]/path?query` → (https, `host:port`, `/path?query`).
fn split_url(url: &str) -> Option<(bool, String, String)> {
    let (https, rest) = match url.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, url.strip_prefix("http://")?),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return None;
    }
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else if https {
        format!("{authority}:443")
    } else {
        format!("{authority}:80")
    };
    Some((https, authority, path.to_owned()))
}

/// The request head sent to the backend; refuses header values that would break the head.
fn request_head(
    addr: &str,
    path: &str,
    args: &Args,
    req: &Request,
    size: u64,
) -> Result<String, String> {
    use base64::Engine;
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", args.user, args.password));
    let mut head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {credentials}\r\n\
         Content-Length: {size}\r\nExpect: 100-continue\r\nConnection: close\r\n"
    );
    for (k, v) in &req.headers {
        if k.bytes().chain(v.bytes()).any(|b| b == b'\r' || b == b'\n') {
            return Err(format!("the header {k} holds a line break"));
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    Ok(head)
}

/// Reads a response head: the status code and the headers (names lower-cased).
async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(
    rd: &mut R,
) -> Result<(u16, Vec<(String, String)>), String> {
    use tokio::io::AsyncBufReadExt;
    let mut line = String::new();
    let mut total = 0usize;
    let mut status = None;
    let mut headers = Vec::new();
    loop {
        line.clear();
        let n = rd
            .read_line(&mut line)
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        if n == 0 {
            return Err("the connection closed before an answer".into());
        }
        total += n;
        if total > MAX_HEAD {
            return Err("the answer's head is too long".into());
        }
        let l = line.trim_end_matches(['\r', '\n']);
        match status {
            None => {
                let mut parts = l.split_whitespace();
                let code = match (parts.next(), parts.next()) {
                    (Some(v), Some(c)) if v.starts_with("HTTP/1.") => c.parse::<u16>().ok(),
                    _ => None,
                };
                status = Some(code.ok_or_else(|| format!("not an HTTP answer: {l}"))?);
            }
            Some(code) if l.is_empty() => return Ok((code, headers)),
            Some(_) => {
                if let Some((k, v)) = l.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
        }
    }
}

/// Reads a response body: chunked, by `Content-Length`, or to the end of the connection.
async fn read_body<R: tokio::io::AsyncBufRead + Unpin>(
    rd: &mut R,
    headers: &[(String, String)],
) -> Result<String, String> {
    use tokio::io::AsyncBufReadExt;
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let cut = |e: std::io::Error| format!("the answer was cut off: {e}");
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size_line = String::new();
            if rd.read_line(&mut size_line).await.map_err(cut)? == 0 {
                return Err("the answer was cut off in a chunk header".into());
            }
            let hex = size_line.trim().split(';').next().unwrap_or("");
            let n = usize::from_str_radix(hex, 16)
                .map_err(|_| format!("bad chunk size '{}'", size_line.trim()))?;
            if body.len() + n > MAX_BODY {
                return Err("the answer is too long".into());
            }
            let mut chunk = vec![0u8; n + 2];
            rd.read_exact(&mut chunk).await.map_err(cut)?;
            chunk.truncate(n);
            body.extend_from_slice(&chunk);
            if n == 0 {
                break;
            }
        }
    } else if let Some(len) = get("content-length") {
        let n: usize = len
            .parse()
            .map_err(|_| format!("bad Content-Length '{len}'"))?;
        if n > MAX_BODY {
            return Err("the answer is too long".into());
        }
        body.resize(n, 0);
        rd.read_exact(&mut body).await.map_err(cut)?;
    } else {
        rd.take(MAX_BODY as u64)
            .read_to_end(&mut body)
            .await
            .map_err(cut)?;
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Sends the file to the backend the way `curl -T` does: the head with `Expect:
/// 100-continue`, then the file only once the backend says `100 Continue`. A backend that
/// refuses the load before reading any data (a taken label, say) answers at once and the
/// file is not sent at all; that answer is never lost in a reset connection.
async fn put_with_continue(
    url: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
    args: &Args,
    req: &Request,
    size: u64,
    mut file: tokio::fs::File,
    counters: &Counters,
) -> Result<(u16, String), String> {
    use tokio::io::AsyncWriteExt;
    let (https, addr, path) =
        split_url(url).ok_or_else(|| format!("cannot follow the redirect to {url}"))?;
    let head = request_head(&addr, &path, args, req, size)?;
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let stream: Box<dyn Io> = if https {
        let Some(tls) = tls else {
            return Err(format!(
                "the frontend sent the load to {url}, which is HTTPS: pass --cacert"
            ));
        };
        let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host} is not a TLS server name: {e}"))?;
        let s = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS with {addr}: {e}"))?;
        Box::new(s)
    } else {
        Box::new(stream)
    };
    let (rd, mut wr) = tokio::io::split(stream);
    let mut rd = tokio::io::BufReader::new(rd);
    wr.write_all(head.as_bytes())
        .await
        .map_err(|e| format!("sending the request: {e}"))?;
    match tokio::time::timeout(CONTINUE_WAIT, read_head(&mut rd)).await {
        Ok(Ok((100, _))) | Err(_) => {}
        Ok(Ok((code, headers))) => return Ok((code, read_body(&mut rd, &headers).await?)),
        Ok(Err(e)) => return Err(e),
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut sent = 0u64;
    while sent < size {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading the file: {e}"))?;
        if n == 0 {
            return Err(format!(
                "the file shrank while it was sent ({sent} of {size} bytes)"
            ));
        }
        let chunk = buf.get(..n).unwrap_or_default();
        if let Err(e) = wr.write_all(chunk).await {
            // The backend may have answered early and closed: read what it said.
            return match tokio::time::timeout(Duration::from_secs(2), read_head(&mut rd)).await {
                Ok(Ok((code, headers))) if code >= 200 => {
                    Ok((code, read_body(&mut rd, &headers).await?))
                }
                _ => Err(format!("sending the file: {e}")),
            };
        }
        sent += n as u64;
        counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        let lines = chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        counters.newlines.fetch_add(lines, Ordering::Relaxed);
    }
    wr.flush()
        .await
        .map_err(|e| format!("sending the file: {e}"))?;
    loop {
        let (code, headers) = read_head(&mut rd).await?;
        if (100..200).contains(&code) {
            continue;
        }
        return Ok((code, read_body(&mut rd, &headers).await?));
    }
}

/// A plain or TLS connection to a backend.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

fn fail_json(message: &str) -> String {
    serde_json::json!({"Status": "Fail", "Message": message}).to_string()
}

/// The progress display.
enum Display {
    Bar(indicatif::ProgressBar, bool),
    Lines {
        size: u64,
        rows: bool,
        last: std::sync::Mutex<Instant>,
    },
    None,
}

impl Display {
    fn new(mode: ProgressMode, size: u64, rows: bool) -> Display {
        let tty = std::io::stderr().is_terminal();
        match mode {
            ProgressMode::Never => Display::None,
            ProgressMode::Bar => Display::bar(size, rows),
            ProgressMode::Auto if tty => Display::bar(size, rows),
            ProgressMode::Auto | ProgressMode::Lines => Display::Lines {
                size,
                rows,
                last: std::sync::Mutex::new(Instant::now()),
            },
        }
    }

    fn bar(size: u64, rows: bool) -> Display {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(size),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} {msg} ETA {eta}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        Display::Bar(bar, rows)
    }

    fn update(&self, c: &Counters, started: Instant) {
        match self {
            Display::Bar(bar, rows) => {
                bar.set_position(c.bytes.load(Ordering::Relaxed));
                if *rows {
                    bar.set_message(format!("{} rows/s", rows_per_sec(c, started)));
                }
            }
            Display::Lines { size, rows, last } => {
                let Ok(mut last) = last.lock() else { return };
                if last.elapsed() < Duration::from_secs(1) {
                    return;
                }
                *last = Instant::now();
                eprintln!("{}", progress_line(c, *size, *rows, started));
            }
            Display::None => {}
        }
    }

    fn finish(&self, c: &Counters, started: Instant) {
        match self {
            Display::Bar(bar, rows) => {
                bar.set_position(c.bytes.load(Ordering::Relaxed));
                if *rows {
                    bar.set_message(format!("{} rows/s", rows_per_sec(c, started)));
                }
                bar.finish();
            }
            Display::Lines { size, rows, .. } => {
                eprintln!("{}", progress_line(c, *size, *rows, started));
            }
            Display::None => {}
        }
    }
}

fn rows_per_sec(c: &Counters, started: Instant) -> u64 {
    let secs = started.elapsed().as_secs_f64().max(0.001);
    (c.newlines.load(Ordering::Relaxed) as f64 / secs) as u64
}

/// One progress line: `sent 12.0 MiB / 40.0 MiB (30%), 6.0 MiB/s, 120000 rows/s, ETA 5s`.
fn progress_line(c: &Counters, size: u64, rows: bool, started: Instant) -> String {
    let sent = c.bytes.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let rate = sent as f64 / secs;
    let pct = (sent * 100).checked_div(size).unwrap_or(100);
    let eta = if rate > 0.0 {
        format!(
            "{}s",
            (size.saturating_sub(sent) as f64 / rate).ceil() as u64
        )
    } else {
        "?".into()
    };
    let rows = if rows {
        format!(", {} rows/s", rows_per_sec(c, started))
    } else {
        String::new()
    };
    format!(
        "sent {} / {} ({pct}%), {}/s{rows}, ETA {eta}",
        indicatif::HumanBytes(sent),
        indicatif::HumanBytes(size),
        indicatif::HumanBytes(rate as u64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(argv: &[&str]) -> Args {
        let mut v = vec!["load"];
        v.extend_from_slice(argv);
        match Cli::try_parse_from(v) {
            Ok(c) => c.args,
            Err(e) => panic!("{e}"),
        }
    }

    fn header<'a>(r: &'a Request, k: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn csv_file_gets_comma_separator_and_the_label() {
        let a = args(&["/x/data.csv", "--table", "demo.t", "--label", "l1"]);
        let r = build_request(&a, Some(b'1')).expect("valid");
        assert_eq!((r.db.as_str(), r.table.as_str()), ("demo", "t"));
        assert_eq!(r.headers[0], ("label".into(), "l1".into()));
        assert_eq!(header(&r, "format"), Some("csv"));
        assert_eq!(header(&r, "column_separator"), Some(","));
        assert_eq!(header(&r, "timeout"), Some("600"));
        assert!(r.rows_are_lines);
    }

    #[test]
    fn txt_file_keeps_starrocks_default_tab_separator() {
        let a = args(&["/x/data.txt", "--table", "demo.t"]);
        let r = build_request(&a, None).expect("valid");
        assert_eq!(header(&r, "column_separator"), None);
        assert!(r.label.starts_with("tessera_load_t_"), "{}", r.label);
    }

    #[test]
    fn json_array_strips_the_outer_array_and_lines_do_not() {
        let a = args(&["/x/rows.json", "--table", "d.t"]);
        let r = build_request(&a, Some(b'[')).expect("valid");
        assert_eq!(r.format, Format::Json);
        assert_eq!(header(&r, "strip_outer_array"), Some("true"));
        assert!(!r.rows_are_lines);
        let r =
            build_request(&args(&["/x/rows.jsonl", "--table", "d.t"]), Some(b'{')).expect("valid");
        assert_eq!(header(&r, "format"), Some("json"));
        assert_eq!(header(&r, "strip_outer_array"), None);
        assert!(r.rows_are_lines);
    }

    #[test]
    fn extra_headers_pass_through_and_reserved_ones_are_refused() {
        let a = args(&[
            "/x/a.csv",
            "--table",
            "d.t",
            "-H",
            "skip_header:1",
            "-H",
            "Max_Filter_Ratio: 0.5",
            "--columns",
            "k,v",
        ]);
        let r = build_request(&a, None).expect("valid");
        assert_eq!(header(&r, "skip_header"), Some("1"));
        assert_eq!(header(&r, "max_filter_ratio"), Some("0.5"));
        assert_eq!(header(&r, "columns"), Some("k,v"));
        for bad in [
            "label:x",
            "format:json",
            "nocolon",
            ":v",
            "Authorization: x",
        ] {
            let a = args(&["/x/a.csv", "--table", "d.t", "-H", bad]);
            assert!(
                matches!(build_request(&a, None), Err(LoadError::Usage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_table_label_and_timeout_are_usage_errors() {
        for t in ["t", ".t", "d.", "a.b.c", ""] {
            let a = args(&["/x/a.csv", "--table", t]);
            assert!(
                matches!(build_request(&a, None), Err(LoadError::Usage(_))),
                "{t}"
            );
        }
        let a = args(&["/x/a.csv", "--table", "d.t", "--label", " "]);
        assert!(matches!(build_request(&a, None), Err(LoadError::Usage(_))));
        let a = args(&["/x/a.csv", "--table", "d.t", "--timeout", "0"]);
        assert!(matches!(build_request(&a, None), Err(LoadError::Usage(_))));
    }

    #[test]
    fn outcomes_are_read_from_the_status() {
        assert_eq!(outcome(r#"{"Status": "Success"}"#), Some(Outcome::Loaded));
        assert_eq!(
            outcome(r#"{"Status": "Publish Timeout"}"#),
            Some(Outcome::Loaded)
        );
        assert_eq!(
            outcome(r#"{"Status": "Label Already Exists", "ExistingJobStatus": "FINISHED"}"#),
            Some(Outcome::LabelFinished)
        );
        assert_eq!(
            outcome(r#"{"Status": "Label Already Exists", "ExistingJobStatus": "RUNNING"}"#),
            Some(Outcome::LabelRunning)
        );
        assert_eq!(outcome(r#"{"Status": "Fail"}"#), Some(Outcome::Failed));
        assert_eq!(outcome("<html>"), None);
        assert_eq!(outcome(""), None);
    }

    #[test]
    fn urls_split_into_address_and_path() {
        assert_eq!(
            split_url("http://127.0.0.2:8040/api/d/t/_stream_load?x=1"),
            Some((
                false,
                "127.0.0.2:8040".into(),
                "/api/d/t/_stream_load?x=1".into()
            ))
        );
        assert_eq!(
            split_url("http://h"),
            Some((false, "h:80".into(), "/".into()))
        );
        assert_eq!(
            split_url("https://h/x"),
            Some((true, "h:443".into(), "/x".into()))
        );
        assert_eq!(split_url("ftp://h/x"), None);
        assert_eq!(split_url("http:///x"), None);
    }

    #[test]
    fn header_values_cannot_break_the_request_head() {
        let a = args(&[
            "/x/a.csv",
            "--table",
            "d.t",
            "-H",
            "columns:k,v\r\nX-Evil: 1",
        ]);
        let r = build_request(&a, None).expect("valid");
        assert!(request_head("h:1", "/", &a, &r, 1).is_err());
        let a = args(&["/x/a.csv", "--table", "d.t", "--label", "l"]);
        let r = build_request(&a, None).expect("valid");
        let head = request_head("h:1", "/p", &a, &r, 5).expect("valid");
        assert!(
            head.starts_with("PUT /p HTTP/1.1\r\nHost: h:1\r\n"),
            "{head}"
        );
        assert!(head.contains("Authorization: Basic cm9vdDo=\r\n"), "{head}");
        assert!(head.contains("Expect: 100-continue\r\n") && head.ends_with("\r\n\r\n"));
    }

    #[tokio::test]
    async fn answers_are_read_chunked_by_length_or_to_the_end() {
        async fn parse(raw: &[u8]) -> Result<(u16, String), String> {
            let mut rd = tokio::io::BufReader::new(raw);
            let (code, headers) = read_head(&mut rd).await?;
            Ok((code, read_body(&mut rd, &headers).await?))
        }
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse(chunked).await, Ok((200, "abcde".into())));
        let sized = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}trailing";
        assert_eq!(parse(sized).await, Ok((404, "{}".into())));
        let eof = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        assert_eq!(parse(eof).await, Ok((200, "all of it".into())));
        assert!(parse(b"SSH-2.0\r\n\r\n").await.is_err());
        assert!(
            parse(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort")
                .await
                .is_err()
        );
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                .await
                .is_err()
        );
        assert!(parse(b"").await.is_err());
    }

    /// A fake frontend and backend on one port: the label's state is `state`; the first
    /// load's answer is lost (the connection closes after the file arrived), later ones say
    /// the label is taken by a finished load. Returns the address and the number of files
    /// received.
    async fn fake_cluster(state: &'static str) -> (String, Arc<AtomicU64>) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let files = Arc::new(AtomicU64::new(0));
        let (me, received) = (addr.clone(), files.clone());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (rd, mut wr) = conn.into_split();
                let mut rd = tokio::io::BufReader::new(rd);
                let mut request = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                        break;
                    }
                    if line.trim().is_empty() {
                        break;
                    }
                    if request.is_empty() {
                        request = line.trim().to_owned();
                    } else if let Some(v) =
                        line.to_ascii_lowercase().strip_prefix("content-length:")
                    {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let reply = |code: &str, extra: &str, body: &str| {
                    format!(
                        "HTTP/1.1 {code}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                };
                let answer = if request.starts_with("GET /api/d/get_load_state?label=l ") {
                    reply(
                        "200 OK",
                        "",
                        &format!("{{\"code\": 0, \"data\": \"{state}\"}}"),
                    )
                } else if request.starts_with("PUT /api/d/t/_stream_load ") && length == 0 {
                    reply(
                        "307 Temporary Redirect",
                        &format!("Location: http://{me}/be/api/d/t/_stream_load\r\n"),
                        "",
                    )
                } else if request.starts_with("PUT /be/api/d/t/_stream_load ") {
                    let _ = wr.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
                    let mut body = vec![0u8; length];
                    if rd.read_exact(&mut body).await.is_err() {
                        continue;
                    }
                    if received.fetch_add(1, Ordering::SeqCst) == 0 {
                        continue; // the answer is lost: the connection just closes
                    }
                    reply(
                        "200 OK",
                        "",
                        r#"{"Label": "l", "Status": "Label Already Exists", "ExistingJobStatus": "FINISHED"}"#,
                    )
                } else {
                    reply("404 Not Found", "", "{}")
                };
                let _ = wr.write_all(answer.as_bytes()).await;
                let _ = wr.shutdown().await;
            }
        });
        (addr, files)
    }

    fn fake_args(addr: &str, file: &Path) -> Args {
        let file = file.to_string_lossy().to_string();
        args(&[
            &file,
            "--table",
            "d.t",
            "--label",
            "l",
            "--host",
            addr,
            "--progress",
            "never",
        ])
    }

    #[tokio::test]
    async fn a_lost_answer_is_asked_again_and_the_finished_load_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.csv");
        std::fs::write(&file, "1,a\n2,b\n").expect("write");
        let (addr, files) = fake_cluster("UNKNOWN").await;
        let body = run_async(&fake_args(&addr, &file))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(body.contains("Label Already Exists"), "{body}");
        assert_eq!(files.load(Ordering::SeqCst), 2, "sent once, then once more");
    }

    #[tokio::test]
    async fn a_label_taken_before_the_run_is_never_taken_for_ours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.csv");
        std::fs::write(&file, "1,a\n").expect("write");
        let (addr, _) = fake_cluster("VISIBLE").await;
        match run_async(&fake_args(&addr, &file)).await {
            Err(LoadError::Failed(body)) => assert!(body.contains("Label Already Exists")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_path("my db"), "my%20db");
        assert_eq!(encode_path("t_1-x"), "t_1-x");
        assert_eq!(encode_path("a/b?"), "a%2Fb%3F");
    }

    #[test]
    fn progress_line_shows_bytes_rate_rows_and_eta() {
        let c = Counters::default();
        c.bytes.store(512, Ordering::Relaxed);
        c.newlines.store(10, Ordering::Relaxed);
        let line = progress_line(&c, 1024, true, Instant::now() - Duration::from_secs(1));
        assert!(line.starts_with("sent 512 B / 1.00 KiB (50%), "), "{line}");
        assert!(line.contains(" rows/s, ETA "), "{line}");
        let line = progress_line(&c, 1024, false, Instant::now());
        assert!(!line.contains("rows/s"), "{line}");
    }
}
