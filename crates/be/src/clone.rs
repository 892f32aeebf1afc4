//! Replica repair on the backends: clone.
//!
//! ```text
//!  leader FE ── CloneTablet(tablet, version, source) ──► destination BE
//!                                                        missing versions of [0, version]?
//!                                                        none: done
//!                                 FetchSnapshot ◄─────── some: incremental (exactly those)
//!  source BE ── header, file bytes, len + CRC32 ... ───► absent tablet, or the source has
//!                                                        compacted them away: full snapshot
//!                                                        files verified, made durable, then
//!                                                        the tablet's metadata names them
//!  leader FE ◄── progress ... done(version, size, rows) ─┘
//! ```
//!
//! Files are copied as they are (never decoded and re-encoded): the source reads each file of
//! the snapshot and sends its bytes with the length and CRC32 it read; the destination checks
//! both before the file counts. The source's snapshot pins its rowsets, so compaction's sweeper
//! cannot remove a file while it is being sent. A destination receives at most
//! `tablet_sched_clone_rate_limit_mb_per_sec` (sent with each task) over all its clones.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;
use std::time::Instant;

use common::Error;
use common::Result;
use common::StatusCode;
use common::schema::TableSchema;
use futures::Stream;
use proto::CLUSTER_ID_HEADER;
use proto::CloneProgress;
use proto::CloneTabletRequest;
use proto::FetchSnapshotRequest;
use proto::SnapshotError;
use proto::SnapshotFileEnd;
use proto::SnapshotFileInfo;
use proto::SnapshotHeader;
use proto::SnapshotPart;
use proto::backend_service_client::BackendServiceClient;
use proto::snapshot_part::Part;
use storage::CloneSnapshot;
use storage::CloneTarget;
use storage::CloneWriter;
use storage::RowsetMeta;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::transport::Endpoint;

use crate::backend::Backend;

/// Bytes per data message.
const CHUNK: usize = 1024 * 1024;
/// Progress goes to the leader at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// Connecting to the source.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A boxed stream of gRPC replies.
pub(crate) type ReplyStream<T> = Pin<Box<dyn Stream<Item = std::result::Result<T, Status>> + Send>>;

/// Shares one receive rate among a backend's clones: each chunk reserves its share of time.
#[derive(Default)]
pub struct CloneLimiter {
    next_free: Mutex<Option<Instant>>,
}

impl CloneLimiter {
    /// How long to wait before `bytes` more may be received at `rate` bytes per second.
    fn reserve(&self, bytes: usize, rate: i64) -> Duration {
        if rate <= 0 {
            return Duration::ZERO;
        }
        let mut next = self
            .next_free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let start = next.filter(|t| *t > now).unwrap_or(now);
        *next = Some(start + Duration::from_secs_f64(bytes as f64 / rate as f64));
        start - now
    }
}

// ---------------------------------------------------------------------------------------------
// Source side.

fn part(p: Part) -> std::result::Result<SnapshotPart, Status> {
    Ok(SnapshotPart { part: Some(p) })
}

/// Serves `FetchSnapshot`: the snapshot's header, then every file's bytes and checksum.
pub(crate) async fn fetch_snapshot(
    be: &Arc<Backend>,
    req: FetchSnapshotRequest,
) -> ReplyStream<SnapshotPart> {
    let (tx, rx) = mpsc::channel::<std::result::Result<SnapshotPart, Status>>(4);
    let be = be.clone();
    tokio::spawn(async move {
        let snapshot = match snapshot_for(&be, &req).await {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(tablet_id = req.tablet_id, "clone source refused: {e}");
                let _ = tx
                    .send(part(Part::Error(SnapshotError {
                        code: e.code.number(),
                        message: e.message,
                    })))
                    .await;
                return;
            }
        };
        let header = match header_of(&snapshot) {
            Ok(h) => h,
            Err(e) => {
                let _ = tx
                    .send(part(Part::Error(SnapshotError {
                        code: e.code.number(),
                        message: e.message,
                    })))
                    .await;
                return;
            }
        };
        if tx.send(part(Part::Header(header))).await.is_err() {
            return;
        }
        // Read on a blocking thread; the bounded channel paces it to the receiver.
        let tablet_id = snapshot.tablet_id;
        let sent = tokio::task::spawn_blocking(move || send_files(&snapshot, &tx)).await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(tablet_id, "sending a clone snapshot failed: {e}"),
            Err(e) => tracing::warn!(tablet_id, "clone snapshot task: {e}"),
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

async fn snapshot_for(be: &Arc<Backend>, req: &FetchSnapshotRequest) -> Result<CloneSnapshot> {
    crate::tablet_writer::check_backend_id(be, req.backend_id)?;
    if req.tablet_id <= 0 || req.version < 0 {
        return Err(Error::invalid(format!(
            "FetchSnapshot: invalid tablet {} or version {}",
            req.tablet_id, req.version
        )));
    }
    let (tablet_id, version) = (req.tablet_id, req.version);
    let missing = (!req.full).then(|| req.missing_versions.clone());
    if missing.as_ref().is_some_and(|m| m.is_empty()) {
        return Err(Error::invalid(
            "FetchSnapshot: an incremental snapshot needs the missing versions",
        ));
    }
    be.blocking(move |s| s.clone_snapshot(tablet_id, version, missing.as_deref()))
        .await
}

fn header_of(s: &CloneSnapshot) -> Result<SnapshotHeader> {
    let rowsets = serde_json::to_vec(&s.rowsets)
        .map_err(|e| Error::internal(format!("encode rowset metadata: {e}")))?;
    Ok(SnapshotHeader {
        rowsets,
        files: s
            .files
            .iter()
            .map(|f| SnapshotFileInfo {
                rowset_id: f.rowset_id.clone(),
                name: f.name.clone(),
                len: f.len,
            })
            .collect(),
        version: s.version,
        full: s.full,
        bytes_total: i64::try_from(s.bytes()).unwrap_or(i64::MAX),
    })
}

fn send_files(
    s: &CloneSnapshot,
    tx: &mpsc::Sender<std::result::Result<SnapshotPart, Status>>,
) -> Result<()> {
    use std::io::Read;
    for (i, f) in s.files.iter().enumerate() {
        let mut file = std::fs::File::open(&f.path)
            .map_err(|e| Error::io(format!("open {}", f.path.display()), e))?;
        let mut crc = crc32fast::Hasher::new();
        let mut len = 0u64;
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = file
                .read(&mut buf)
                .map_err(|e| Error::io(format!("read {}", f.path.display()), e))?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            crc.update(&buf);
            len += n as u64;
            if tx.blocking_send(part(Part::Data(buf))).is_err() {
                return Err(Error::new(
                    StatusCode::Cancelled,
                    "the clone destination went away",
                ));
            }
        }
        let end = SnapshotFileEnd {
            file_index: i as u32,
            len,
            crc32: crc.finalize(),
        };
        if tx.blocking_send(part(Part::FileEnd(end))).is_err() {
            return Err(Error::new(
                StatusCode::Cancelled,
                "the clone destination went away",
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Destination side.

/// What a finished clone reports.
struct Done {
    version: i64,
    data_size: i64,
    row_count: i64,
    full: bool,
    rowsets: i64,
}

/// Serves `CloneTablet`: runs the clone and streams its progress.
pub(crate) async fn clone_tablet(
    be: &Arc<Backend>,
    req: CloneTabletRequest,
) -> ReplyStream<CloneProgress> {
    let (tx, rx) = mpsc::channel::<std::result::Result<CloneProgress, Status>>(8);
    let be = be.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let progress = Progress {
            tx: tx.clone(),
            last: Mutex::new(None),
        };
        let tablet_id = req.tablet_id;
        let result = run_clone(&be, &req, &progress).await;
        let copy_ms = started.elapsed().as_millis() as i64;
        let copied = progress.copied();
        let last = match result {
            Ok(done) => {
                tracing::info!(
                    tablet_id,
                    version = done.version,
                    full = done.full,
                    bytes = copied.0,
                    ms = copy_ms,
                    "clone finished"
                );
                be.request_report();
                CloneProgress {
                    bytes_copied: copied.0,
                    bytes_total: copied.1,
                    done: true,
                    ok: true,
                    version: done.version,
                    data_size: done.data_size,
                    row_count: done.row_count,
                    full: done.full,
                    copy_ms,
                    rowsets: done.rowsets,
                    ..Default::default()
                }
            }
            Err(e) => {
                tracing::warn!(tablet_id, "clone failed: {e}");
                CloneProgress {
                    bytes_copied: copied.0,
                    bytes_total: copied.1,
                    done: true,
                    ok: false,
                    error: e.message,
                    error_code: e.code.number(),
                    copy_ms,
                    ..Default::default()
                }
            }
        };
        be.metrics.clone_done(last.ok, copied.0, copy_ms);
        let _ = tx.send(Ok(last)).await;
    });
    Box::pin(ReceiverStream::new(rx))
}

struct Progress {
    tx: mpsc::Sender<std::result::Result<CloneProgress, Status>>,
    /// (when last sent, bytes copied, bytes total).
    last: Mutex<Option<(Instant, i64, i64)>>,
}

impl Progress {
    fn copied(&self) -> (i64, i64) {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|(_, c, t)| (c, t))
            .unwrap_or((0, 0))
    }

    /// Records progress; sends it when the last message is old enough.
    fn update(&self, copied: i64, total: i64) {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let due = last.is_none_or(|(t, _, _)| t.elapsed() >= PROGRESS_EVERY);
        let at = if due {
            Instant::now()
        } else {
            last.map(|(t, _, _)| t).unwrap_or_else(Instant::now)
        };
        *last = Some((at, copied, total));
        if due {
            // A full channel only delays the next update.
            let _ = self.tx.try_send(Ok(CloneProgress {
                bytes_copied: copied,
                bytes_total: total,
                ..Default::default()
            }));
        }
    }
}

async fn run_clone(
    be: &Arc<Backend>,
    req: &CloneTabletRequest,
    progress: &Progress,
) -> Result<Done> {
    crate::tablet_writer::check_backend_id(be, req.backend_id)?;
    if req.tablet_id <= 0 || req.replica_id <= 0 || req.version < 1 {
        return Err(Error::invalid(format!(
            "CloneTablet: invalid tablet {}, replica {} or version {}",
            req.tablet_id, req.replica_id, req.version
        )));
    }
    if req.src_host.is_empty() || req.src_brpc_port == 0 || req.src_brpc_port > 65535 {
        return Err(Error::invalid(format!(
            "CloneTablet {}: invalid source address {}:{}",
            req.tablet_id, req.src_host, req.src_brpc_port
        )));
    }
    let schema: TableSchema = serde_json::from_slice(&req.schema).map_err(|e| {
        Error::invalid(format!(
            "CloneTablet {}: the schema is not a valid table schema: {e}",
            req.tablet_id
        ))
    })?;
    let target = CloneTarget {
        tablet_id: req.tablet_id,
        replica_id: req.replica_id,
        table_id: req.table_id,
        partition_id: req.partition_id,
        schema,
    };
    let (tablet_id, version) = (req.tablet_id, req.version);
    // A copy of the tablet under another replica id is a leftover the catalog no longer knows
    // (the leader only sends a new replica to a backend that holds none of this tablet): it
    // makes room for the new replica.
    let replica_id = req.replica_id;
    let stale = be
        .blocking(move |s| Ok(s.tablet_meta(tablet_id).map(|m| m.replica_id)))
        .await?
        .filter(|r| *r != replica_id);
    if let Some(old) = stale {
        tracing::info!(
            tablet_id,
            old_replica = old,
            new_replica = replica_id,
            "dropping a leftover copy of the tablet to clone the new replica"
        );
        be.blocking(move |s| s.drop_tablet(tablet_id, old)).await?;
    }
    let missing = be
        .blocking(move |s| s.missing_versions(tablet_id, version))
        .await?;
    let incremental = match (&missing, req.full) {
        (_, true) | (None, _) => None,
        (Some(m), false) if m.is_empty() => return current(be, tablet_id, false, 0).await,
        (Some(m), false) => Some(m.clone()),
    };
    if let Some(m) = incremental {
        match copy(be, req, &target, Some(m), progress).await {
            Err(e) if e.code == StatusCode::VersionsCompacted => {
                tracing::info!(
                    tablet_id,
                    "the source no longer has the missing versions ({e}); cloning in full"
                );
            }
            other => return other,
        }
    }
    copy(be, req, &target, None, progress).await
}

/// The replica's state after a clone (or when nothing was missing).
async fn current(be: &Arc<Backend>, tablet_id: i64, full: bool, rowsets: i64) -> Result<Done> {
    let meta = be
        .blocking(move |s| Ok(s.tablet_meta(tablet_id)))
        .await?
        .ok_or_else(|| Error::internal(format!("tablet {tablet_id} vanished after its clone")))?;
    let data_size: i64 = meta
        .rowsets
        .iter()
        .filter(|r| r.end_version <= meta.version)
        .map(|r| r.bytes)
        .sum();
    Ok(Done {
        version: meta.version,
        data_size,
        row_count: meta.visible_rows(),
        full,
        rowsets,
    })
}

fn source_client(
    req: &CloneTabletRequest,
) -> Result<BackendServiceClient<tonic::transport::Channel>> {
    let addr = format!("{}:{}", req.src_host, req.src_brpc_port);
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| Error::invalid(format!("bad source address {addr}: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(4 * 1024 * 1024))
        .initial_connection_window_size(Some(16 * 1024 * 1024))
        .connect_lazy();
    Ok(BackendServiceClient::new(channel)
        .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(proto::MAX_MESSAGE_BYTES))
}

/// Fetches a snapshot (incremental when `missing` is given) and installs it.
async fn copy(
    be: &Arc<Backend>,
    req: &CloneTabletRequest,
    target: &CloneTarget,
    missing: Option<Vec<i64>>,
    progress: &Progress,
) -> Result<Done> {
    let full = missing.is_none();
    let mut client = source_client(req)?;
    let mut request = tonic::Request::new(FetchSnapshotRequest {
        tablet_id: req.tablet_id,
        version: req.version,
        missing_versions: missing.unwrap_or_default(),
        full,
        backend_id: req.src_backend_id,
    });
    if let Some(id) = be.storage.cluster_id()
        && let Ok(v) = id.to_string().parse()
    {
        request.metadata_mut().insert(CLUSTER_ID_HEADER, v);
    }
    if let Some(token) = be.storage.token() {
        proto::auth::stamp(&mut request, &token);
    }
    let source = format!(
        "backend {} ({}:{})",
        req.src_backend_id, req.src_host, req.src_brpc_port
    );
    let unreachable = |s: Status| {
        Error::new(
            StatusCode::Unreachable,
            format!("clone source {source}: {}", s.message()),
        )
    };
    let mut stream = client
        .fetch_snapshot(request)
        .await
        .map_err(unreachable)?
        .into_inner();
    let header = match stream.message().await.map_err(unreachable)? {
        Some(SnapshotPart {
            part: Some(Part::Header(h)),
        }) => h,
        Some(SnapshotPart {
            part: Some(Part::Error(e)),
        }) => {
            return Err(Error::new(
                StatusCode::from_number(e.code).unwrap_or(StatusCode::Internal),
                format!("clone source {source}: {}", e.message),
            ));
        }
        _ => {
            return Err(Error::internal(format!(
                "clone source {source} did not start with a snapshot header"
            )));
        }
    };
    let rowsets: Vec<RowsetMeta> = serde_json::from_slice(&header.rowsets).map_err(|e| {
        Error::invalid(format!(
            "clone source {source} sent bad rowset metadata: {e}"
        ))
    })?;
    let total = header.bytes_total.max(0);
    progress.update(0, total);
    let t = target.clone();
    // The flood stage counts the bytes the clone brings.
    let incoming = u64::try_from(total).unwrap_or(0);
    let mut writer: CloneWriter = be
        .blocking(move |s| s.begin_clone_sized(&t, full, incoming))
        .await?;
    let rate = req.rate_limit_bytes_per_sec;
    let mut index = 0usize;
    let mut open = false;
    let mut copied: i64 = 0;
    loop {
        let msg = stream.message().await.map_err(unreachable)?;
        let Some(SnapshotPart { part: Some(p) }) = msg else {
            break;
        };
        match p {
            Part::Data(bytes) => {
                let wait = be.clone_limiter.reserve(bytes.len(), rate);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                let Some(f) = header.files.get(index) else {
                    return Err(Error::invalid(format!(
                        "clone source {source} sent more files than its header lists"
                    )));
                };
                if !open {
                    let (rid, name) = (f.rowset_id.clone(), f.name.clone());
                    writer = be
                        .blocking(move |_| {
                            writer.start_file(&rid, &name)?;
                            Ok(writer)
                        })
                        .await?;
                    open = true;
                }
                copied += bytes.len() as i64;
                writer = be
                    .blocking(move |_| {
                        writer.write(&bytes)?;
                        Ok(writer)
                    })
                    .await?;
                progress.update(copied, total);
            }
            Part::FileEnd(end) => {
                let Some(f) = header.files.get(index) else {
                    return Err(Error::invalid(format!(
                        "clone source {source} ended a file its header does not list"
                    )));
                };
                if end.file_index as usize != index {
                    return Err(Error::invalid(format!(
                        "clone source {source} ended file {} while file {index} was open",
                        end.file_index
                    )));
                }
                if !open {
                    // An empty file: no data message came.
                    let (rid, name) = (f.rowset_id.clone(), f.name.clone());
                    writer = be
                        .blocking(move |_| {
                            writer.start_file(&rid, &name)?;
                            Ok(writer)
                        })
                        .await?;
                }
                writer = be
                    .blocking(move |_| {
                        writer.finish_file(end.len, end.crc32)?;
                        Ok(writer)
                    })
                    .await?;
                open = false;
                index += 1;
            }
            Part::Header(_) | Part::Error(_) => {
                return Err(Error::invalid(format!(
                    "clone source {source} sent a second header or an error mid-stream"
                )));
            }
        }
    }
    if index != header.files.len() || open {
        return Err(Error::new(
            StatusCode::Unreachable,
            format!(
                "clone source {source} stopped after {index} of {} files",
                header.files.len()
            ),
        ));
    }
    let n = rowsets.len() as i64;
    let version = header.version;
    let outcome = be
        .blocking(move |s| s.finish_clone(writer, rowsets, version))
        .await?;
    current(be, req.tablet_id, outcome.full, n).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_spreads_bytes_over_time() {
        let l = CloneLimiter::default();
        assert_eq!(l.reserve(1000, 0), Duration::ZERO, "0 means no limit");
        assert_eq!(l.reserve(1_000_000, 1_000_000), Duration::ZERO);
        let wait = l.reserve(500_000, 1_000_000);
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "the second MB waits for the first second: {wait:?}"
        );
    }
}
