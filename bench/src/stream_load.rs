//! A Stream Load client that does what a user's
//! `curl --location-trusted -u root: -H label:… -H column_separator:… -T file http://fe:8030/api/db/t/_stream_load`
//! does: `PUT` to the FE with `Expect: 100-continue` and the file's length, follow the FE's
//! 307 to the BE it picked (keeping the `Authorization` header), wait there for
//! `100 Continue` (at most 1 s, curl's default), stream the file from disk in 1 MiB reads,
//! and read the JSON reply. The file is never held in memory.

use std::path::Path;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;
use base64::Engine;
use tokio::io::AsyncBufReadExt;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

/// How long to wait for `100 Continue` before sending the body anyway (curl's default).
const EXPECT_WAIT: Duration = Duration::from_secs(1);
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 3;
/// Largest response head or body read.
const MAX_RESPONSE: usize = 16 << 20;

/// One Stream Load request.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// The FE's HTTP address, `ip:port`.
    pub fe_http: String,
    /// Database.
    pub db: String,
    /// Table.
    pub table: String,
    /// User (`-u user:password`).
    pub user: String,
    /// Password.
    pub password: String,
    /// Stream Load headers (`label`, `column_separator`, `columns`, ...).
    pub headers: Vec<(String, String)>,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct LoadOutcome {
    /// `ip:port` of the BE the FE redirected to (the load's coordinator), if it redirected.
    pub coordinator: Option<String>,
    /// The final HTTP status.
    pub status: u16,
    /// The final reply body parsed as JSON (`Null` when it was not JSON).
    pub reply: serde_json::Value,
    /// The final reply body as text.
    pub reply_text: String,
    /// Body bytes sent to the server that answered last.
    pub sent: u64,
    /// From the start until the FE's redirect arrived.
    pub redirect_after: Option<Duration>,
    /// From the start until the whole final reply was read.
    pub total: Duration,
}

impl LoadOutcome {
    /// Fails, showing the reply, unless the load answered HTTP 200 with `"Status":
    /// "Success"` and `NumberLoadedRows` equal to `rows`; `what` names the load.
    pub fn ensure_loaded(&self, what: &str, rows: u64) -> anyhow::Result<()> {
        if self.status != 200
            || self.reply["Status"].as_str() != Some("Success")
            || self.reply["NumberLoadedRows"].as_u64() != Some(rows)
        {
            anyhow::bail!(
                "Stream Load of {what} failed: HTTP {} via {:?}, expected {rows} loaded rows; reply:\n{}",
                self.status,
                self.coordinator,
                self.reply_text
            );
        }
        Ok(())
    }
}

struct Head {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Head {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `http://host:port/path` into (`host:port`, `/path`).
fn parse_http_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("redirect to a non-http URL: {url}"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    anyhow::ensure!(!host.is_empty(), "redirect without a host: {url}");
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    Ok((host, path.to_string()))
}

async fn read_head(r: &mut BufReader<OwnedReadHalf>) -> anyhow::Result<Head> {
    let mut line = String::new();
    let mut total = 0usize;
    let n = r.read_line(&mut line).await?;
    anyhow::ensure!(n > 0, "the server closed the connection without a reply");
    total += n;
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    anyhow::ensure!(
        version.starts_with("HTTP/1."),
        "not an HTTP/1.x status line: {line:?}"
    );
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line).await?;
        anyhow::ensure!(n > 0, "the connection closed inside the response head");
        total += n;
        anyhow::ensure!(total <= MAX_RESPONSE, "response head too large");
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Head { status, headers })
}

async fn read_body(r: &mut BufReader<OwnedReadHalf>, head: &Head) -> anyhow::Result<Vec<u8>> {
    if head.status == 204 || head.status == 304 || (100..200).contains(&head.status) {
        return Ok(Vec::new());
    }
    if let Some(len) = head.get("content-length") {
        let len: usize = len
            .parse()
            .with_context(|| format!("bad content-length {len:?}"))?;
        anyhow::ensure!(len <= MAX_RESPONSE, "response body of {len} bytes");
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).await?;
        return Ok(body);
    }
    if head
        .get("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            let size = line.trim().split(';').next().unwrap_or_default();
            let n = usize::from_str_radix(size, 16)
                .with_context(|| format!("bad chunk size {line:?}"))?;
            if n == 0 {
                // Trailers end with an empty line.
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                return Ok(body);
            }
            anyhow::ensure!(body.len() + n <= MAX_RESPONSE, "response body too large");
            let start = body.len();
            body.resize(start + n, 0);
            r.read_exact(&mut body[start..]).await?;
            line.clear();
            r.read_line(&mut line).await?;
        }
    }
    let mut body = Vec::new();
    r.take(MAX_RESPONSE as u64).read_to_end(&mut body).await?;
    Ok(body)
}

/// Sends the file on `w`; returns the bytes written.
async fn send_file(w: &mut tokio::net::tcp::OwnedWriteHalf, file: &Path) -> anyhow::Result<u64> {
    let f = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("open {}", file.display()))?;
    let mut rd = BufReader::with_capacity(1 << 20, f);
    let n = tokio::io::copy_buf(&mut rd, w).await?;
    w.flush().await?;
    Ok(n)
}

/// Runs one Stream Load of `file`; `on_redirect` is called with the BE's `ip:port` as soon
/// as the FE has redirected (before the body is sent).
pub async fn stream_load(
    req: &LoadRequest,
    file: &Path,
    mut on_redirect: impl FnMut(&str),
) -> anyhow::Result<LoadOutcome> {
    let len = std::fs::metadata(file)
        .with_context(|| format!("stat {}", file.display()))?
        .len();
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", req.user, req.password).as_bytes());
    let start = Instant::now();
    let mut host = req.fe_http.clone();
    let mut path = format!("/api/{}/{}/_stream_load", req.db, req.table);
    let mut coordinator = None;
    let mut redirect_after = None;
    for _ in 0..=MAX_REDIRECTS {
        let stream = TcpStream::connect(&host)
            .await
            .with_context(|| format!("connect {host}"))?;
        stream.set_nodelay(true)?;
        let (rd, mut wr) = stream.into_split();
        let mut rd = BufReader::new(rd);
        let mut head = format!(
            "PUT {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\nUser-Agent: tessera-bench\r\nAccept: */*\r\n"
        );
        for (k, v) in &req.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {len}\r\nExpect: 100-continue\r\n\r\n"
        ));
        wr.write_all(head.as_bytes()).await?;
        wr.flush().await?;
        let mut sent = 0;
        let first = match tokio::time::timeout(EXPECT_WAIT, read_head(&mut rd)).await {
            Ok(h) => Some(h.with_context(|| format!("PUT http://{host}{path}"))?),
            Err(_) => None,
        };
        let final_head = match first {
            Some(h) if (300..400).contains(&h.status) => {
                let loc = h
                    .get("location")
                    .with_context(|| format!("HTTP {} without a location", h.status))?
                    .to_string();
                let (next_host, next_path) = parse_http_url(&loc)?;
                redirect_after = Some(start.elapsed());
                on_redirect(&next_host);
                coordinator = Some(next_host.clone());
                host = next_host;
                path = next_path;
                continue;
            }
            Some(h) if h.status != 100 => h,
            // 100 Continue, or no answer within EXPECT_WAIT: send the body.
            _ => {
                let mut h = match send_file(&mut wr, file).await {
                    Ok(n) => {
                        sent = n;
                        read_head(&mut rd)
                            .await
                            .with_context(|| format!("the reply of {host}"))?
                    }
                    // The server may have answered early and closed: show its reply.
                    Err(e) => {
                        match tokio::time::timeout(Duration::from_secs(10), read_head(&mut rd))
                            .await
                        {
                            Ok(Ok(h)) => h,
                            _ => return Err(e.context(format!("sending the body to {host}"))),
                        }
                    }
                };
                while h.status == 100 {
                    h = read_head(&mut rd).await?;
                }
                h
            }
        };
        let body = read_body(&mut rd, &final_head).await?;
        let total = start.elapsed();
        let reply_text = String::from_utf8_lossy(&body).into_owned();
        let reply = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        return Ok(LoadOutcome {
            coordinator,
            status: final_head.status,
            reply,
            reply_text,
            sent,
            redirect_after,
            total,
        });
    }
    anyhow::bail!("more than {MAX_REDIRECTS} redirects")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (h, p) = parse_http_url("http://127.0.0.2:8040/api/d/t/_stream_load").expect("url");
        assert_eq!(
            (h.as_str(), p.as_str()),
            ("127.0.0.2:8040", "/api/d/t/_stream_load")
        );
        assert!(parse_http_url("https://x/").is_err());
    }
}
