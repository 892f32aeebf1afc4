//! A lean HTTP/1.1 client for etcd's v3 JSON gateway and Tessera's `/api/health`: one
//! keep-alive connection per [`HttpConn`], no pool, no TLS.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::Full;
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One HTTP/1.1 keep-alive connection.
pub struct HttpConn {
    addr: String,
    sender: SendRequest<Full<Bytes>>,
    driver: tokio::task::JoinHandle<()>,
}

impl HttpConn {
    /// Connects to `addr` (`ip:port`).
    pub async fn connect(addr: &str) -> anyhow::Result<HttpConn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("http handshake with {addr}"))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(HttpConn {
            addr: addr.to_string(),
            sender,
            driver,
        })
    }

    /// Sends one request (POST when `body` is given, else GET); returns status and body.
    pub async fn call(&mut self, path: &str, body: Option<Bytes>) -> anyhow::Result<(u16, Bytes)> {
        self.sender
            .ready()
            .await
            .with_context(|| format!("connection to {} closed", self.addr))?;
        let builder = Request::builder()
            .uri(path)
            .header(hyper::header::HOST, self.addr.as_str())
            // root with an empty password: every FE page but /api/health needs a user.
            .header(hyper::header::AUTHORIZATION, "Basic cm9vdDo=");
        let req = match body {
            Some(b) => builder
                .method("POST")
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(b))?,
            None => builder.method("GET").body(Full::new(Bytes::new()))?,
        };
        let resp = self
            .sender
            .send_request(req)
            .await
            .with_context(|| format!("{} {path}", self.addr))?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

impl Drop for HttpConn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// One request on a fresh connection, bounded by `timeout`; parses the body as JSON.
pub async fn json_call(
    addr: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let fut = async {
        let mut conn = HttpConn::connect(addr).await?;
        let (status, bytes) = conn
            .call(path, body.map(|b| Bytes::copy_from_slice(b.as_bytes())))
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{addr}{path}: not JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        anyhow::Ok((status, v))
    };
    tokio::time::timeout(timeout, fut)
        .await
        .with_context(|| format!("{addr}{path}: no answer within {timeout:?}"))?
}
