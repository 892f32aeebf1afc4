//! The coordinator's tablet sink: buffers rows per tablet, encodes each tablet's rowset file
//! once (Parquet, storage's `RowsetEncoder`) and streams the same bytes to every replica of
//! the tablet (`BackendService.WriteTablet` on its brpc_port), which stores them as they are.
//!
//! Encoding is the expensive part of a load, so it happens once per tablet instead of once per
//! replica (as StarRocks's replicated storage has the primary replica ship its segments), and
//! off the thread that parses the input: a few encode workers per load (one per core, at
//! least two) each own the encoders of some tablets. The row groups being encoded share one
//! memory budget per load ([`ENCODE_BUDGET`]): past it, a tablet ends its row group early, so
//! a load's memory does not grow with the number of tablets or the size of the input.
//!
//! Replicas on the coordinator itself are written in-process (the same `WriteTablet` checks and
//! writer, fed from a channel): no gRPC copies, and no HTTP/2 buffers filling up while the
//! coordinator's CPU is busy parsing.
//!
//! The first row of a partition opens a stream to every replica of every tablet of that
//! partition (a tablet that gets no rows still writes an empty pending rowset). A replica whose
//! stream fails is dropped from the load and left out of the commit infos; the FE decides with
//! `write_quorum`. The load fails early only when some tablet has no replica left.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::load::LoadPlan;
use common::schema::DataType;
use common::schema::TableSchema;
use proto::CLUSTER_ID_HEADER;
use proto::RowsetFileEnd;
use proto::TabletCommitInfo;
use proto::WriteTabletHeader;
use proto::WriteTabletReply;
use proto::WriteTabletRequest;
use proto::backend_service_client::BackendServiceClient;
use storage::RowsetEncoder;
use storage::arrow::array::RecordBatch;
use storage::arrow::datatypes::SchemaRef;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::transport::Endpoint;

use crate::backend::Backend;
use crate::load::batch::BatchBuilder;
use crate::load::value::Value;

/// A tablet's buffer is handed to its encoder when it holds this many rows...
const BATCH_ROWS: usize = 8192;
/// ... or about this many bytes.
const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Every buffer is handed over when all of them together hold about this many bytes.
const TOTAL_BYTES: usize = 16 * 1024 * 1024;
/// Memory the row groups being encoded may hold together, over all of a load's tablets. With
/// 8 tablets a row group gets about 2 MB encoded, some 50K rows of TPC-H lineitem (DuckDB's
/// row groups are 122,880 rows); compaction rewrites them into full-size ones later.
pub const ENCODE_BUDGET: usize = 16 * 1024 * 1024;
/// A row group is not ended early below this size (tiny row groups read slowly).
const MIN_EARLY_ROW_GROUP: usize = 1024 * 1024;
/// Batches queued per encode worker.
const ENCODE_QUEUE: usize = 4;
/// A message carries at most this many bytes of a rowset file. Small: the HTTP/2 layer holds
/// a whole message per stream until the flow-control window lets it go, and a load has
/// tablets x replicas streams.
const FILE_CHUNK: usize = 256 * 1024;
/// Messages queued per replica stream. The bytes are shared by a tablet's replicas, so this
/// (times [`FILE_CHUNK`], times the tablets) bounds what waits for the network.
const STREAM_QUEUE: usize = 8;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a replica that ended its stream early gets to send the reply saying why.
const REPLY_WAIT: Duration = Duration::from_secs(2);

type WriteResult = Result<WriteTabletReply, String>;

struct ReplicaStream {
    backend_id: i64,
    addr: String,
    tx: Option<mpsc::Sender<WriteTabletRequest>>,
    task: Option<JoinHandle<WriteResult>>,
    error: Option<String>,
}

impl ReplicaStream {
    fn live(&self) -> bool {
        self.error.is_none()
    }

    /// Marks the replica failed, with the stream's own error when it has one. A stream the
    /// replica ended early (it refused the write) is given [`REPLY_WAIT`] for its reply, which
    /// says why.
    async fn fail(&mut self, why: &str, wait_for_reply: bool) {
        self.tx = None;
        let mut error = why.to_string();
        if let Some(mut task) = self.task.take() {
            let wait = if wait_for_reply {
                REPLY_WAIT
            } else {
                Duration::ZERO
            };
            match tokio::time::timeout(wait, &mut task).await {
                Ok(Ok(Ok(r))) if !r.ok => error = r.error,
                Ok(Ok(Err(e))) => error = e,
                Ok(_) => {}
                Err(_) => task.abort(),
            }
        }
        self.error = Some(error);
    }
}

struct TabletStream {
    tablet_id: i64,
    /// Which encode worker holds this tablet's encoder.
    worker: usize,
    replicas: Vec<ReplicaStream>,
    /// The replicas' streams until the worker gets them with the tablet's first message.
    open: Option<OpenTablet>,
    buffer: BatchBuilder,
}

/// A tablet's replica streams, handed to its encode worker with the tablet's first message
/// (each already has the header queued).
struct OpenTablet {
    tablet_id: i64,
    streams: Vec<Option<mpsc::Sender<WriteTabletRequest>>>,
}

/// What the sink tells an encode worker about one tablet (`key` = index in the sink's
/// tablet list).
enum EncodeMsg {
    /// Rows for a tablet.
    Rows {
        key: usize,
        open: Option<OpenTablet>,
        batch: RecordBatch,
    },
    /// No more rows for a tablet: finish its file and end its streams.
    Finish {
        key: usize,
        open: Option<OpenTablet>,
    },
}

/// What an encode worker reports when it stops.
#[derive(Default)]
struct WorkerOutcome {
    /// Replica streams that failed while the worker sent to them: (key, replica index, why).
    failed: Vec<(usize, usize, String)>,
    /// Why the worker stopped early, if it did (the load fails).
    error: Option<String>,
}

struct WorkerHandle {
    tx: Option<mpsc::Sender<EncodeMsg>>,
    task: Option<JoinHandle<WorkerOutcome>>,
}

/// One tablet inside an encode worker.
struct TabletEncoding {
    tablet_id: i64,
    encoder: Option<RowsetEncoder>,
    streams: Vec<Option<mpsc::Sender<WriteTabletRequest>>>,
    /// This tablet's share of the budget, as last counted.
    counted: usize,
}

impl TabletEncoding {
    fn new(schema: &TableSchema, open: OpenTablet) -> TabletEncoding {
        TabletEncoding {
            tablet_id: open.tablet_id,
            encoder: Some(RowsetEncoder::new(open.tablet_id, schema)),
            streams: open.streams,
            counted: 0,
        }
    }

    /// Sends file bytes to every live replica. Fails when no replica is left.
    fn send(
        &mut self,
        key: usize,
        bytes: Vec<u8>,
        end: Option<RowsetFileEnd>,
        failed: &mut Vec<(usize, usize, String)>,
    ) -> Result<(), String> {
        let bytes = Bytes::from(bytes);
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let to = (at + FILE_CHUNK).min(bytes.len());
            chunks.push(bytes.slice(at..to));
            at = to;
        }
        let n = chunks.len();
        let mut msgs: Vec<(Bytes, Option<RowsetFileEnd>)> =
            chunks.into_iter().map(|c| (c, None)).collect();
        if let Some(end) = end {
            match msgs.last_mut() {
                Some(last) if n > 0 => last.1 = Some(end),
                _ => msgs.push((Bytes::new(), Some(end))),
            }
        }
        for (data, end) in msgs {
            for (i, stream) in self.streams.iter_mut().enumerate() {
                let Some(tx) = stream.as_ref() else {
                    continue;
                };
                let msg = WriteTabletRequest {
                    header: None,
                    arrow_ipc: Vec::new(),
                    parquet: data.clone(),
                    file_end: end,
                };
                if tx.blocking_send(msg).is_err() {
                    *stream = None;
                    failed.push((key, i, "the write stream ended early".into()));
                }
            }
            if self.streams.iter().all(Option::is_none) {
                return Err(format!(
                    "tablet {}: no replica could be written",
                    self.tablet_id
                ));
            }
        }
        Ok(())
    }
}

/// An encode worker: encodes the batches of its tablets in order and sends the bytes.
fn encode_worker(
    schema: Arc<TableSchema>,
    budget: Arc<AtomicUsize>,
    mut rx: mpsc::Receiver<EncodeMsg>,
) -> WorkerOutcome {
    let mut out = WorkerOutcome::default();
    let mut tablets: HashMap<usize, TabletEncoding> = HashMap::new();
    let result = (|| -> Result<(), String> {
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                EncodeMsg::Rows { key, open, batch } => {
                    if let Some(o) = open {
                        tablets.insert(key, TabletEncoding::new(&schema, o));
                    }
                    let Some(t) = tablets.get_mut(&key) else {
                        return Err(format!("rows for tablet #{key}, which was never opened"));
                    };
                    let Some(enc) = t.encoder.as_mut() else {
                        return Err(format!("tablet {}: rows after its end", t.tablet_id));
                    };
                    let mut bytes = enc.write(&batch).map_err(|e| e.message)?;
                    let now = enc.buffered_bytes();
                    let total = budget.fetch_add(now, Ordering::Relaxed) + now;
                    let total = total.saturating_sub(t.counted);
                    budget.fetch_sub(t.counted, Ordering::Relaxed);
                    t.counted = now;
                    if total > ENCODE_BUDGET && now >= MIN_EARLY_ROW_GROUP {
                        bytes.extend(enc.flush_row_group().map_err(|e| e.message)?);
                        budget.fetch_sub(t.counted, Ordering::Relaxed);
                        t.counted = 0;
                    }
                    if !bytes.is_empty() {
                        t.send(key, bytes, None, &mut out.failed)?;
                    }
                }
                EncodeMsg::Finish { key, open } => {
                    if let Some(o) = open {
                        tablets.insert(key, TabletEncoding::new(&schema, o));
                    }
                    let Some(t) = tablets.get_mut(&key) else {
                        continue;
                    };
                    let Some(enc) = t.encoder.take() else {
                        continue;
                    };
                    budget.fetch_sub(t.counted, Ordering::Relaxed);
                    t.counted = 0;
                    let (tail, rows, len) = enc.finish().map_err(|e| e.message)?;
                    let end = RowsetFileEnd {
                        rows,
                        bytes: i64::try_from(len).unwrap_or(i64::MAX),
                    };
                    t.send(key, tail, Some(end), &mut out.failed)?;
                    // Dropping the senders ends the streams: the replicas commit.
                    t.streams.clear();
                }
            }
        }
        Ok(())
    })();
    for t in tablets.values() {
        budget.fetch_sub(t.counted, Ordering::Relaxed);
    }
    // A tablet not finished drops its streams without an end: its replicas keep nothing.
    out.error = result.err();
    out
}

/// What the writes achieved.
#[derive(Debug, Default)]
pub struct SinkOutcome {
    /// Replicas that wrote their pending rowset.
    pub commit_infos: Vec<TabletCommitInfo>,
    /// Partitions the load wrote.
    pub partition_ids: Vec<i64>,
    /// Replicas that failed, with why.
    pub failures: Vec<String>,
}

/// The sink of one load.
pub struct TabletSink {
    plan: Arc<LoadPlan>,
    /// This backend, whose own replicas are written in-process (no gRPC, no HTTP/2 buffers).
    local: Option<(i64, Arc<Backend>)>,
    cluster_id: i32,
    /// The cluster token the streams to other backends carry.
    token: Arc<str>,
    schema_json: Vec<u8>,
    arrow_schema: SchemaRef,
    types: Vec<DataType>,
    deadline: Instant,
    channels: HashMap<String, Channel>,
    /// Per partition: the keys of its tablets once opened.
    partitions: Vec<Option<Vec<usize>>>,
    /// Every opened tablet; a key is an index here.
    tablets: Vec<TabletStream>,
    workers: Vec<WorkerHandle>,
    /// Batches waiting to be handed to their encoder: (tablet key, rows).
    ready: Vec<(usize, RecordBatch)>,
    buffered: usize,
    /// Every backend a stream was opened to: id → brpc address.
    backends: BTreeMap<i64, String>,
}

impl TabletSink {
    /// A sink for a load plan.
    pub fn new(
        plan: Arc<LoadPlan>,
        local: Option<Arc<Backend>>,
        cluster_id: i32,
        token: Arc<str>,
        deadline: Instant,
    ) -> Result<TabletSink, String> {
        let local = local.and_then(|be| be.backend_id().map(|id| (id, be)));
        let schema_json = serde_json::to_vec(&plan.schema)
            .map_err(|e| format!("cannot encode the table schema: {e}"))?;
        let n = plan.partitions.len();
        let schema = Arc::new(plan.schema.clone());
        let budget = Arc::new(AtomicUsize::new(0));
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let tablets: usize = plan.partitions.iter().map(|p| p.tablets.len()).sum();
        let workers = (0..cores.max(2).min(tablets.max(1)))
            .map(|_| {
                let (tx, rx) = mpsc::channel(ENCODE_QUEUE);
                let (schema, budget) = (schema.clone(), budget.clone());
                WorkerHandle {
                    tx: Some(tx),
                    task: Some(tokio::task::spawn_blocking(move || {
                        encode_worker(schema, budget, rx)
                    })),
                }
            })
            .collect();
        Ok(TabletSink {
            arrow_schema: storage::arrow_schema(&plan.schema),
            types: plan.schema.columns.iter().map(|c| c.data_type).collect(),
            schema_json,
            plan,
            local,
            cluster_id,
            token,
            deadline,
            channels: HashMap::new(),
            partitions: (0..n).map(|_| None).collect(),
            tablets: Vec::new(),
            workers,
            ready: Vec::new(),
            buffered: 0,
            backends: BTreeMap::new(),
        })
    }

    /// Backends that received a stream (AbortLoad goes to them when the load fails).
    pub fn backends(&self) -> &BTreeMap<i64, String> {
        &self.backends
    }

    fn channel(&mut self, addr: &str) -> Result<Channel, String> {
        if let Some(c) = self.channels.get(addr) {
            return Ok(c.clone());
        }
        let c = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("bad backend address {addr}: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .initial_stream_window_size(Some(2 * 1024 * 1024))
            .initial_connection_window_size(Some(16 * 1024 * 1024))
            .connect_lazy();
        self.channels.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    fn open_partition(&mut self, p: usize) -> Result<(), String> {
        let plan = self.plan.clone();
        let part = &plan.partitions[p];
        let mut keys = Vec::with_capacity(part.tablets.len());
        for t in &part.tablets {
            let mut replicas = Vec::with_capacity(t.replicas.len());
            let mut streams = Vec::with_capacity(t.replicas.len());
            for r in &t.replicas {
                let addr = format!("{}:{}", r.host, r.brpc_port);
                self.backends.insert(r.backend_id, addr.clone());
                let (tx, rx) = mpsc::channel(STREAM_QUEUE);
                let header = WriteTabletRequest {
                    header: Some(WriteTabletHeader {
                        txn_id: plan.txn_id,
                        tablet_id: t.tablet_id,
                        partition_id: part.partition_id,
                        backend_id: r.backend_id,
                        schema: self.schema_json.clone(),
                    }),
                    ..Default::default()
                };
                let mut stream = ReplicaStream {
                    backend_id: r.backend_id,
                    addr: addr.clone(),
                    tx: None,
                    task: None,
                    error: None,
                };
                if tx.try_send(header).is_err() {
                    stream.error = Some("cannot queue the stream header".into());
                    replicas.push(stream);
                    streams.push(None);
                    continue;
                }
                if let Some((_, be)) = self.local.as_ref().filter(|(id, _)| *id == r.backend_id) {
                    // This backend's own replica: the same checks and writer, in-process.
                    let (be, deadline) = (be.clone(), self.deadline);
                    let messages = tokio_stream::StreamExt::map(
                        tokio_stream::wrappers::ReceiverStream::new(rx),
                        Ok::<_, tonic::Status>,
                    );
                    stream.task = Some(tokio::spawn(async move {
                        tokio::time::timeout_at(
                            deadline,
                            crate::tablet_writer::write_tablet(&be, messages),
                        )
                        .await
                        .map_err(|_| "timed out (the load timeout passed)".to_string())
                    }));
                    replicas.push(stream);
                    streams.push(Some(tx));
                    continue;
                }
                let channel = match self.channel(&addr) {
                    Ok(c) => c,
                    Err(e) => {
                        stream.error = Some(e);
                        replicas.push(stream);
                        streams.push(None);
                        continue;
                    }
                };
                let mut req = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
                if let Ok(v) = self.cluster_id.to_string().parse() {
                    req.metadata_mut().insert(CLUSTER_ID_HEADER, v);
                }
                proto::auth::stamp(&mut req, &self.token);
                req.set_timeout(self.deadline.saturating_duration_since(Instant::now()));
                let mut client = BackendServiceClient::new(channel)
                    .max_encoding_message_size(proto::MAX_MESSAGE_BYTES)
                    .max_decoding_message_size(proto::MAX_MESSAGE_BYTES);
                stream.task = Some(tokio::spawn(async move {
                    client
                        .write_tablet(req)
                        .await
                        .map(tonic::Response::into_inner)
                        .map_err(|s| s.message().to_string())
                }));
                replicas.push(stream);
                // The encode worker owns the sending side once it gets the tablet.
                streams.push(Some(tx));
            }
            let key = self.tablets.len();
            let tablet = TabletStream {
                tablet_id: t.tablet_id,
                worker: key % self.workers.len().max(1),
                replicas,
                open: Some(OpenTablet {
                    tablet_id: t.tablet_id,
                    streams,
                }),
                buffer: BatchBuilder::new(&self.types),
            };
            check_alive(&tablet)?;
            self.tablets.push(tablet);
            keys.push(key);
        }
        self.partitions[p] = Some(keys);
        Ok(())
    }

    /// Hands a message to the encode worker of tablet `key`; when the worker has stopped,
    /// collects why and fails the load.
    async fn send_to_worker(&mut self, key: usize, msg: EncodeMsg) -> Result<(), String> {
        let w = self.tablets.get(key).map_or(0, |t| t.worker);
        let Some(tx) = self.workers.get(w).and_then(|h| h.tx.clone()) else {
            return Err("the load's encoder stopped".into());
        };
        match tokio::time::timeout_at(self.deadline, tx.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => {
                self.join_worker(w).await?;
                Err("the load's encoder stopped".into())
            }
            Err(_) => Err("timed out writing the replicas (the load timeout passed)".into()),
        }
    }

    /// Waits for a worker to stop and records what it reports: failed replica streams (with
    /// the replica's own reason when it sent one). An error of the worker fails the load.
    async fn join_worker(&mut self, w: usize) -> Result<(), String> {
        let Some(handle) = self.workers.get_mut(w) else {
            return Ok(());
        };
        handle.tx = None;
        let Some(task) = handle.task.take() else {
            return Ok(());
        };
        let outcome = match tokio::time::timeout_at(self.deadline, task).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => WorkerOutcome {
                failed: Vec::new(),
                error: Some(format!("the encode worker failed: {e}")),
            },
            Err(_) => {
                return Err("timed out writing the replicas (the load timeout passed)".into());
            }
        };
        for (key, i, why) in outcome.failed {
            if let Some(r) = self
                .tablets
                .get_mut(key)
                .and_then(|t| t.replicas.get_mut(i))
            {
                r.fail(&why, true).await;
            }
        }
        for t in self.tablets.iter().filter(|t| t.worker == w) {
            check_alive(t)?;
        }
        match outcome.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn flush(&mut self, key: usize) -> Result<(), String> {
        let Some(tablet) = self.tablets.get_mut(key) else {
            return Ok(());
        };
        if tablet.buffer.rows() == 0 {
            return Ok(());
        }
        self.buffered = self.buffered.saturating_sub(tablet.buffer.bytes());
        let batch = tablet.buffer.take(&self.arrow_schema)?;
        self.ready.push((key, batch));
        Ok(())
    }

    fn flush_all(&mut self) -> Result<(), String> {
        for key in 0..self.tablets.len() {
            self.flush(key)?;
        }
        Ok(())
    }

    /// Buffers a row for tablet `t` of partition `p` (indexes into the plan).
    pub fn add(&mut self, p: usize, t: usize, row: &[Value<'_>]) -> Result<(), String> {
        if self.partitions[p].is_none() {
            self.open_partition(p)?;
        }
        let Some(key) = self.partitions[p]
            .as_ref()
            .and_then(|ks| ks.get(t))
            .copied()
        else {
            return Err(format!("the load plan has no tablet {t} in partition {p}"));
        };
        let full = {
            let Some(tablet) = self.tablets.get_mut(key) else {
                return Err(format!("the load plan has no tablet {t} in partition {p}"));
            };
            let before = tablet.buffer.bytes();
            tablet.buffer.append(row);
            self.buffered += tablet.buffer.bytes() - before;
            tablet.buffer.rows() >= BATCH_ROWS || tablet.buffer.bytes() >= BATCH_BYTES
        };
        if full {
            self.flush(key)?;
        }
        if self.buffered >= TOTAL_BYTES {
            self.flush_all()?;
        }
        Ok(())
    }

    /// Whether batches wait to be sent.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Hands the batches waiting to their encoders. Fails when a tablet has no replica left.
    pub async fn drain(&mut self) -> Result<(), String> {
        let ready = std::mem::take(&mut self.ready);
        for (key, batch) in ready {
            let open = self.tablets.get_mut(key).and_then(|t| t.open.take());
            self.send_to_worker(key, EncodeMsg::Rows { key, open, batch })
                .await?;
        }
        Ok(())
    }

    /// Sends what is buffered, finishes every tablet's file, ends every stream and collects
    /// which replicas wrote their pending rowset.
    pub async fn close(&mut self) -> Result<SinkOutcome, String> {
        self.flush_all()?;
        self.drain().await?;
        for key in 0..self.tablets.len() {
            let open = self.tablets.get_mut(key).and_then(|t| t.open.take());
            self.send_to_worker(key, EncodeMsg::Finish { key, open })
                .await?;
        }
        for w in 0..self.workers.len() {
            self.join_worker(w).await?;
        }
        let mut out = SinkOutcome::default();
        for (p, keys) in self.partitions.iter().enumerate() {
            let Some(keys) = keys else {
                continue;
            };
            out.partition_ids.push(self.plan.partitions[p].partition_id);
            for key in keys {
                let Some(tablet) = self.tablets.get_mut(*key) else {
                    continue;
                };
                for r in tablet.replicas.iter_mut() {
                    let Some(task) = r.task.take() else {
                        continue;
                    };
                    let result = match task.await {
                        Ok(r) => r,
                        Err(e) => Err(format!("the write task failed: {e}")),
                    };
                    match result {
                        Ok(reply) if reply.ok => out.commit_infos.push(TabletCommitInfo {
                            tablet_id: tablet.tablet_id,
                            backend_id: r.backend_id,
                        }),
                        Ok(reply) => r.error = Some(reply.error),
                        Err(e) => r.error = Some(e),
                    }
                }
                for r in tablet.replicas.iter().filter(|r| !r.live()) {
                    out.failures.push(format!(
                        "tablet {} on backend {} ({}): {}",
                        tablet.tablet_id,
                        r.backend_id,
                        r.addr,
                        r.error.as_deref().unwrap_or_default()
                    ));
                }
                check_alive(tablet)?;
            }
        }
        Ok(out)
    }

    /// Breaks every stream off (the replicas write nothing).
    pub fn abort(&mut self) {
        // Workers stop at their closed channel without ending any file, so no replica sees a
        // file's end; breaking the calls off makes them drop what they wrote at once.
        for w in self.workers.iter_mut() {
            w.tx = None;
        }
        for tablet in self.tablets.iter_mut() {
            tablet.open = None;
            for r in tablet.replicas.iter_mut() {
                if let Some(task) = r.task.take() {
                    task.abort();
                }
                r.tx = None;
            }
        }
        self.ready.clear();
    }
}

impl Drop for TabletSink {
    fn drop(&mut self) {
        // A sink dropped before close (an error, a cancelled request) must not let the replicas
        // see a clean end of their streams.
        self.abort();
    }
}

fn check_alive(tablet: &TabletStream) -> Result<(), String> {
    if tablet.replicas.iter().any(ReplicaStream::live) {
        return Ok(());
    }
    let why: Vec<String> = tablet
        .replicas
        .iter()
        .map(|r| {
            format!(
                "backend {} ({}): {}",
                r.backend_id,
                r.addr,
                r.error.as_deref().unwrap_or("no replica")
            )
        })
        .collect();
    Err(format!(
        "tablet {}: no replica could be written ({})",
        tablet.tablet_id,
        if why.is_empty() {
            "the plan lists no replica".to_string()
        } else {
            why.join("; ")
        }
    ))
}
