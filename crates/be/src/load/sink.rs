//! The coordinator's tablet sink: buffers rows per tablet and streams them as Arrow IPC
//! batches to every replica of the tablet (`BackendService.WriteTablet` on its brpc_port).
//!
//! The first row of a partition opens a stream to every replica of every tablet of that
//! partition (a tablet that gets no rows still writes an empty pending rowset). A replica whose
//! stream fails is dropped from the load and left out of the commit infos; the FE decides with
//! `write_quorum`. The load fails early only when some tablet has no replica left.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::load::LoadPlan;
use common::schema::DataType;
use proto::CLUSTER_ID_HEADER;
use proto::TabletCommitInfo;
use proto::WriteTabletHeader;
use proto::WriteTabletReply;
use proto::WriteTabletRequest;
use proto::backend_service_client::BackendServiceClient;
use storage::arrow::datatypes::SchemaRef;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::transport::Endpoint;

use crate::load::batch::BatchBuilder;
use crate::load::batch::to_ipc;
use crate::load::value::Value;

/// A tablet's buffer is sent when it holds this many rows...
const BATCH_ROWS: usize = 8192;
/// ... or about this many bytes.
const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Every buffer is sent when all of them together hold about this many bytes.
const TOTAL_BYTES: usize = 32 * 1024 * 1024;
/// Messages queued per replica stream. With tablets x replicas streams open, this (times
/// the batch size) is most of a coordinator's memory, so it stays small: a full queue
/// means the replica is the bottleneck and more queueing would not help.
const STREAM_QUEUE: usize = 2;
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
    replicas: Vec<ReplicaStream>,
    buffer: BatchBuilder,
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
    cluster_id: i32,
    schema_json: Vec<u8>,
    arrow_schema: SchemaRef,
    types: Vec<DataType>,
    deadline: Instant,
    channels: HashMap<String, Channel>,
    /// Per partition: its tablets' streams once opened.
    partitions: Vec<Option<Vec<TabletStream>>>,
    /// Encoded batches waiting to be sent: (partition, tablet, IPC bytes).
    ready: Vec<(usize, usize, Vec<u8>)>,
    buffered: usize,
    /// Every backend a stream was opened to: id → brpc address.
    backends: BTreeMap<i64, String>,
}

impl TabletSink {
    /// A sink for a load plan.
    pub fn new(
        plan: Arc<LoadPlan>,
        cluster_id: i32,
        deadline: Instant,
    ) -> Result<TabletSink, String> {
        let schema_json = serde_json::to_vec(&plan.schema)
            .map_err(|e| format!("cannot encode the table schema: {e}"))?;
        let n = plan.partitions.len();
        Ok(TabletSink {
            arrow_schema: storage::arrow_schema(&plan.schema),
            types: plan.schema.columns.iter().map(|c| c.data_type).collect(),
            schema_json,
            plan,
            cluster_id,
            deadline,
            channels: HashMap::new(),
            partitions: (0..n).map(|_| None).collect(),
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
        let mut tablets = Vec::with_capacity(part.tablets.len());
        for t in &part.tablets {
            let mut replicas = Vec::with_capacity(t.replicas.len());
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
                    arrow_ipc: Vec::new(),
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
                    continue;
                }
                let channel = match self.channel(&addr) {
                    Ok(c) => c,
                    Err(e) => {
                        stream.error = Some(e);
                        replicas.push(stream);
                        continue;
                    }
                };
                let mut req = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
                if let Ok(v) = self.cluster_id.to_string().parse() {
                    req.metadata_mut().insert(CLUSTER_ID_HEADER, v);
                }
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
                stream.tx = Some(tx);
                replicas.push(stream);
            }
            tablets.push(TabletStream {
                tablet_id: t.tablet_id,
                replicas,
                buffer: BatchBuilder::new(&self.types),
            });
        }
        self.partitions[p] = Some(tablets);
        Ok(())
    }

    fn flush(&mut self, p: usize, t: usize) -> Result<(), String> {
        let Some(tablet) = self.partitions[p].as_mut().and_then(|ts| ts.get_mut(t)) else {
            return Ok(());
        };
        if tablet.buffer.rows() == 0 {
            return Ok(());
        }
        self.buffered = self.buffered.saturating_sub(tablet.buffer.bytes());
        let batch = tablet.buffer.take(&self.arrow_schema)?;
        self.ready.push((p, t, to_ipc(&batch)?));
        Ok(())
    }

    fn flush_all(&mut self) -> Result<(), String> {
        for p in 0..self.partitions.len() {
            let n = self.partitions[p].as_ref().map_or(0, Vec::len);
            for t in 0..n {
                self.flush(p, t)?;
            }
        }
        Ok(())
    }

    /// Buffers a row for tablet `t` of partition `p` (indexes into the plan).
    pub fn add(&mut self, p: usize, t: usize, row: &[Value<'_>]) -> Result<(), String> {
        if self.partitions[p].is_none() {
            self.open_partition(p)?;
        }
        let full = {
            let Some(tablet) = self.partitions[p].as_mut().and_then(|ts| ts.get_mut(t)) else {
                return Err(format!("the load plan has no tablet {t} in partition {p}"));
            };
            let before = tablet.buffer.bytes();
            tablet.buffer.append(row);
            self.buffered += tablet.buffer.bytes() - before;
            tablet.buffer.rows() >= BATCH_ROWS || tablet.buffer.bytes() >= BATCH_BYTES
        };
        if full {
            self.flush(p, t)?;
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

    /// Sends the batches waiting. Fails when a tablet has no replica left.
    pub async fn drain(&mut self) -> Result<(), String> {
        let ready = std::mem::take(&mut self.ready);
        for (p, t, bytes) in ready {
            let deadline = self.deadline;
            let Some(tablet) = self.partitions[p].as_mut().and_then(|ts| ts.get_mut(t)) else {
                continue;
            };
            for r in tablet.replicas.iter_mut() {
                let Some(tx) = r.tx.as_ref() else {
                    continue;
                };
                let msg = WriteTabletRequest {
                    header: None,
                    arrow_ipc: bytes.clone(),
                };
                match tokio::time::timeout_at(deadline, tx.send(msg)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => r.fail("the write stream ended early", true).await,
                    Err(_) => {
                        r.fail("timed out sending data (the load timeout passed)", false)
                            .await
                    }
                }
            }
            check_alive(tablet)?;
        }
        Ok(())
    }

    /// Sends what is buffered, ends every stream and collects which replicas wrote their
    /// pending rowset.
    pub async fn close(&mut self) -> Result<SinkOutcome, String> {
        self.flush_all()?;
        self.drain().await?;
        let mut out = SinkOutcome::default();
        for (p, tablets) in self.partitions.iter_mut().enumerate() {
            let Some(tablets) = tablets.as_mut() else {
                continue;
            };
            out.partition_ids.push(self.plan.partitions[p].partition_id);
            for tablet in tablets.iter_mut() {
                for r in tablet.replicas.iter_mut() {
                    r.tx = None; // a clean end of the stream: the replica commits its rowset
                }
            }
            for tablet in tablets.iter_mut() {
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
        for tablets in self.partitions.iter_mut().flatten() {
            for tablet in tablets.iter_mut() {
                for r in tablet.replicas.iter_mut() {
                    if let Some(task) = r.task.take() {
                        task.abort();
                    }
                    r.tx = None;
                }
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
