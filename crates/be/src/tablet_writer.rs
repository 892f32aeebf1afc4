//! The replica side of a load: `WriteTablet` streams, `PublishVersion`, `AbortLoad`.
//!
//! A `WriteTablet` stream carries the header in its first message and then the tablet's data
//! in one of two forms:
//!
//! - **An encoded file** (what a load's coordinator sends): `parquet` carries the bytes of the
//!   rowset file, encoded once by the coordinator for every replica, and the last message's
//!   `file_end` says how many rows and bytes it holds. The replica appends the bytes to its
//!   file as they arrive and, at the end, reads the footer back and checks rows, length and
//!   columns before recording the rowset; without a `file_end` it keeps nothing.
//! - **Rows**: each message's `arrow_ipc` is a complete IPC stream (schema + record batches),
//!   which the replica encodes itself; the rowset is recorded when the stream ends cleanly.
//!
//! One message is in flight to the file writer, so memory stays bounded whatever the load's
//! size; a stream that breaks leaves nothing.

use std::io::Cursor;
use std::sync::Arc;

use common::Error;
use common::Result;
use common::schema::TableSchema;
use proto::PublishTabletResult;
use proto::PublishVersionRequest;
use proto::WriteTabletHeader;
use proto::WriteTabletReply;
use proto::WriteTabletRequest;
use storage::RowsetWriter;
use storage::StorageEngine;
use storage::arrow::ipc::reader::StreamReader;
use tokio::sync::mpsc;

use crate::backend::Backend;

/// What the receiving task hands the file writer.
enum Chunk {
    /// One message's Arrow IPC stream.
    Data(Vec<u8>),
    /// The next bytes of an encoded rowset file.
    File(bytes::Bytes),
    /// An encoded file is whole: rows and length.
    FileEnd(i64, u64),
    /// The stream ended cleanly: record the rowset.
    Finish,
}

/// Refuses a request addressed to another backend id (a reused address).
pub(crate) fn check_backend_id(be: &Backend, backend_id: i64) -> Result<()> {
    match be.backend_id() {
        Some(ours) if ours > 0 && backend_id > 0 && ours != backend_id => Err(Error::invalid(
            format!("the request is for backend {backend_id}, but this backend is {ours}"),
        )),
        _ => Ok(()),
    }
}

fn check_header(be: &Backend, h: &WriteTabletHeader) -> Result<TableSchema> {
    if h.backend_id <= 0 {
        return Err(Error::invalid(format!(
            "WriteTablet for tablet {}: invalid backend id {} in the header",
            h.tablet_id, h.backend_id
        )));
    }
    check_backend_id(be, h.backend_id)?;
    let schema: TableSchema = serde_json::from_slice(&h.schema).map_err(|e| {
        Error::invalid(format!(
            "WriteTablet for tablet {}: the header's schema is not a table schema: {e}",
            h.tablet_id
        ))
    })?;
    let meta = be.storage.tablet_meta(h.tablet_id).ok_or_else(|| {
        Error::invalid(format!(
            "tablet {} does not exist on this backend",
            h.tablet_id
        ))
    })?;
    let same = meta.schema.columns.len() == schema.columns.len()
        && meta
            .schema
            .columns
            .iter()
            .zip(&schema.columns)
            .all(|(a, b)| a.name.eq_ignore_ascii_case(&b.name) && a.data_type == b.data_type);
    if !same {
        let list = |s: &TableSchema| {
            s.columns
                .iter()
                .map(|c| format!("{} {}", c.name, c.data_type))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Error::invalid(format!(
            "tablet {}: the load's columns ({}) differ from the tablet's ({})",
            h.tablet_id,
            list(&schema),
            list(&meta.schema)
        )));
    }
    Ok(schema)
}

/// Decodes chunks and writes them until `Finish` (commit) or the channel closes (discard).
fn write_chunks(
    storage: &StorageEngine,
    mut writer: RowsetWriter,
    schema: &TableSchema,
    mut rx: mpsc::Receiver<Chunk>,
) -> Result<(i64, i64)> {
    let expected = storage::arrow_schema(schema);
    let tablet_id = writer.tablet_id();
    while let Some(chunk) = rx.blocking_recv() {
        match chunk {
            Chunk::Data(bytes) => {
                let reader = StreamReader::try_new(Cursor::new(bytes), None).map_err(|e| {
                    Error::invalid(format!(
                        "tablet {tablet_id}: the data is not an Arrow IPC stream: {e}"
                    ))
                })?;
                storage::check_arrow_schema(&expected, &reader.schema())
                    .map_err(|e| Error::invalid(format!("tablet {tablet_id}: {e}")))?;
                for batch in reader {
                    let batch = batch.map_err(|e| {
                        Error::invalid(format!(
                            "tablet {tablet_id}: a damaged Arrow IPC batch: {e}"
                        ))
                    })?;
                    writer.write(&batch)?;
                }
            }
            Chunk::File(bytes) => writer.write_encoded(&bytes)?,
            Chunk::FileEnd(rows, len) => writer.end_encoded(rows, len)?,
            Chunk::Finish => {
                let r = storage.commit_rowset(writer)?;
                return Ok((r.rows, r.bytes));
            }
        }
    }
    Err(Error::new(
        common::StatusCode::Cancelled,
        format!("tablet {tablet_id}: the write stream broke off; nothing was written"),
    ))
}

/// Messages of a `WriteTablet` stream: from the network (`tonic::Streaming`) or, for the load
/// coordinator's own replicas, straight from its sink.
pub(crate) trait WriteMessages:
    tokio_stream::Stream<Item = std::result::Result<WriteTabletRequest, tonic::Status>> + Unpin + Send
{
}

impl<S> WriteMessages for S where
    S: tokio_stream::Stream<Item = std::result::Result<WriteTabletRequest, tonic::Status>>
        + Unpin
        + Send
{
}

async fn next_message(
    stream: &mut impl WriteMessages,
) -> std::result::Result<Option<WriteTabletRequest>, tonic::Status> {
    tokio_stream::StreamExt::next(stream).await.transpose()
}

/// Serves one `WriteTablet` stream (the cluster id was checked).
pub(crate) async fn write_tablet(
    be: &Arc<Backend>,
    mut stream: impl WriteMessages,
) -> WriteTabletReply {
    match write_stream(be, &mut stream).await {
        Ok((rows, bytes)) => WriteTabletReply {
            ok: true,
            error: String::new(),
            rows,
            bytes,
        },
        Err(e) => WriteTabletReply {
            ok: false,
            error: e.message,
            rows: 0,
            bytes: 0,
        },
    }
}

async fn write_stream(be: &Arc<Backend>, stream: &mut impl WriteMessages) -> Result<(i64, i64)> {
    let first = next_message(stream)
        .await
        .map_err(|s| Error::invalid(format!("WriteTablet: {}", s.message())))?
        .ok_or_else(|| Error::invalid("WriteTablet: the stream is empty (no header)"))?;
    let header = first
        .header
        .ok_or_else(|| Error::invalid("WriteTablet: the first message carries no header"))?;
    let schema = check_header(be, &header)?;
    let (txn_id, tablet_id, partition_id) = (header.txn_id, header.tablet_id, header.partition_id);
    let writer = be
        .blocking(move |s| s.rowset_writer(txn_id, tablet_id, partition_id))
        .await?;
    let (tx, rx) = mpsc::channel::<Chunk>(1);
    let storage = be.storage.clone();
    let worker = tokio::task::spawn_blocking(move || write_chunks(&storage, writer, &schema, rx));
    let mut msg = Some(WriteTabletRequest {
        header: None,
        ..first
    });
    // Whether the stream sends an encoded file, once known; and whether its end came.
    let mut encoded: Option<bool> = None;
    let mut ended = false;
    let outcome: Result<()> = loop {
        if let Some(m) = msg.take() {
            let mut chunks = Vec::with_capacity(2);
            if !m.arrow_ipc.is_empty() {
                chunks.push(Chunk::Data(m.arrow_ipc));
            }
            if !m.parquet.is_empty() {
                chunks.push(Chunk::File(m.parquet));
            }
            if let Some(end) = m.file_end {
                let len = u64::try_from(end.bytes).map_err(|_| {
                    Error::invalid(format!(
                        "WriteTablet for tablet {tablet_id}: a negative file length {}",
                        end.bytes
                    ))
                });
                match len {
                    Ok(len) => chunks.push(Chunk::FileEnd(end.rows, len)),
                    Err(e) => break Err(e),
                }
            }
            let mut refused = None;
            for c in &chunks {
                let is_file = matches!(c, Chunk::File(_) | Chunk::FileEnd(..));
                if ended || *encoded.get_or_insert(is_file) != is_file {
                    refused = Some(Error::invalid(format!(
                        "WriteTablet for tablet {tablet_id}: {}",
                        if ended {
                            "data after the file's end"
                        } else {
                            "a stream carries rows or an encoded file, not both"
                        }
                    )));
                    break;
                }
                ended = matches!(c, Chunk::FileEnd(..));
            }
            if let Some(e) = refused {
                break Err(e);
            }
            let mut stopped = false;
            for c in chunks {
                if tx.send(c).await.is_err() {
                    stopped = true;
                    break;
                }
            }
            if stopped {
                // The writer stopped on an error; it is returned below.
                break Ok(());
            }
        }
        match next_message(stream).await {
            Ok(Some(m)) => {
                if m.header.is_some() {
                    break Err(Error::invalid(format!(
                        "WriteTablet for tablet {tablet_id}: a second header in the stream"
                    )));
                }
                msg = Some(m);
            }
            Ok(None) => {
                if encoded == Some(true) && !ended {
                    break Err(Error::new(
                        common::StatusCode::Cancelled,
                        format!(
                            "WriteTablet for tablet {tablet_id} (txn {txn_id}): the stream ended \
                             before the rowset file's end; nothing was written"
                        ),
                    ));
                }
                let _ = tx.send(Chunk::Finish).await;
                break Ok(());
            }
            Err(s) => {
                break Err(Error::new(
                    common::StatusCode::Cancelled,
                    format!(
                        "WriteTablet for tablet {tablet_id} (txn {txn_id}): the stream failed: {}",
                        s.message()
                    ),
                ));
            }
        }
    };
    drop(tx);
    let written = worker
        .await
        .map_err(|e| Error::internal(format!("tablet writer task: {e}")))?;
    outcome?;
    let (rows, bytes) = written?;
    tracing::debug!(txn_id, tablet_id, rows, bytes, "wrote a pending rowset");
    Ok((rows, bytes))
}

/// Publishes a transaction's tablets; one result per tablet.
pub(crate) async fn publish(
    be: &Arc<Backend>,
    req: PublishVersionRequest,
) -> Vec<PublishTabletResult> {
    if let Err(e) = check_backend_id(be, req.backend_id) {
        return req
            .tablets
            .iter()
            .map(|t| PublishTabletResult {
                tablet_id: t.tablet_id,
                ok: false,
                error: e.message.clone(),
                ..Default::default()
            })
            .collect();
    }
    let txn_id = req.txn_id;
    let tablets = req.tablets;
    let ids: Vec<i64> = tablets.iter().map(|t| t.tablet_id).collect();
    let results = be
        .blocking(move |s| {
            Ok(tablets
                .iter()
                .map(
                    |t| match s.publish(txn_id, t.tablet_id, t.partition_id, t.version) {
                        Ok(v) => {
                            let rows = s.tablet_meta(t.tablet_id).map(|m| m.visible_rows());
                            PublishTabletResult {
                                tablet_id: t.tablet_id,
                                ok: true,
                                error: String::new(),
                                version: v,
                                row_count: rows.unwrap_or(0),
                            }
                        }
                        Err(e) => PublishTabletResult {
                            tablet_id: t.tablet_id,
                            ok: false,
                            error: e.message,
                            version: s.tablet_meta(t.tablet_id).map(|m| m.version).unwrap_or(0),
                            ..Default::default()
                        },
                    },
                )
                .collect::<Vec<_>>())
        })
        .await;
    match results {
        Ok(r) => {
            // Row counts and versions reach SHOW TABLET now, not at the next periodic report.
            if r.iter().any(|r| r.ok) {
                be.request_report();
            }
            for f in r.iter().filter(|r| !r.ok) {
                tracing::warn!(
                    txn_id,
                    tablet_id = f.tablet_id,
                    "publish failed: {}",
                    f.error
                );
            }
            r
        }
        Err(e) => ids
            .into_iter()
            .map(|tablet_id| PublishTabletResult {
                tablet_id,
                ok: false,
                error: e.message.clone(),
                ..Default::default()
            })
            .collect(),
    }
}
