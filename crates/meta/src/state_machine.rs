//! The raft state machine: applies journal entries to the [`Catalog`].
//!
//! The catalog lives in memory behind a lock that is never held across an `await`. Its durable
//! form is the checkpoint image (see [`crate::image`]); after a restart the newest image is
//! loaded and openraft replays the committed journal entries after it.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::RwLock;

use futures::Stream;
use futures::TryStreamExt;
use openraft::EntryPayload;
use openraft::OptionalSend;
use openraft::RaftSnapshotBuilder;
use openraft::storage::EntryResponder;
use openraft::storage::RaftStateMachine;
use tokio::sync::watch;

use crate::catalog::Catalog;
use crate::image;
use crate::image::ImageBody;
use crate::journal_op::JournalResponse;
use crate::types::LogId;
use crate::types::SnapshotMeta;
use crate::types::StoredMembership;
use crate::types::TypeConfig;

/// A snapshot as openraft moves it: metadata plus the image file bytes.
pub type Snapshot = openraft::alias::SnapshotOf<TypeConfig, Vec<u8>>;

/// The applied state.
#[derive(Debug, Default)]
pub struct AppliedState {
    /// The last applied entry.
    pub last_applied: Option<LogId>,
    /// The membership as of `last_applied`.
    pub membership: StoredMembership,
    /// The catalog.
    pub catalog: Catalog,
}

struct Inner {
    state: RwLock<AppliedState>,
    image_dir: PathBuf,
    /// The last applied journal id, for waiters (read-your-writes).
    applied_tx: watch::Sender<u64>,
}

/// The state machine store. Cheap to clone.
#[derive(Clone)]
pub struct StateMachineStore {
    inner: Arc<Inner>,
}

fn to_io(e: common::Error) -> io::Error {
    let kind = if e.code == common::StatusCode::MetaCorrupted {
        io::ErrorKind::InvalidData
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, e.message)
}

impl StateMachineStore {
    /// Opens the store, loading the newest checkpoint image in `image_dir` if there is one.
    ///
    /// A corrupt newest image is an error: older images may not cover purged journal entries,
    /// so falling back could silently lose metadata.
    pub fn open(image_dir: PathBuf) -> common::Result<StateMachineStore> {
        let mut state = AppliedState::default();
        if let Some((_, path)) = image::list_images(&image_dir)?.into_iter().next() {
            let bytes = std::fs::read(&path)
                .map_err(|e| common::Error::io(format!("read {}", path.display()), e))?;
            let body = image::decode(&bytes, &path.display().to_string())?;
            state = AppliedState {
                last_applied: body.last_applied,
                membership: body.membership,
                catalog: body.catalog,
            };
        }
        let applied = state.last_applied.as_ref().map(|l| l.index).unwrap_or(0);
        let (applied_tx, _) = watch::channel(applied);
        Ok(StateMachineStore {
            inner: Arc::new(Inner {
                state: RwLock::new(state),
                image_dir,
                applied_tx,
            }),
        })
    }

    /// Runs `f` on the applied state.
    pub fn read<T>(&self, f: impl FnOnce(&AppliedState) -> T) -> T {
        let guard = self
            .inner
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }

    /// The last applied journal id (0 before the first entry).
    pub fn applied_index(&self) -> u64 {
        *self.inner.applied_tx.borrow()
    }

    /// A receiver that changes whenever the applied journal id grows.
    pub fn subscribe_applied(&self) -> watch::Receiver<u64> {
        self.inner.applied_tx.subscribe()
    }

    fn write<T>(&self, f: impl FnOnce(&mut AppliedState) -> T) -> T {
        let mut guard = self
            .inner
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    fn current_image(&self) -> io::Result<Option<(u64, PathBuf)>> {
        Ok(image::list_images(&self.inner.image_dir)
            .map_err(to_io)?
            .into_iter()
            .next())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let started = std::time::Instant::now();
        let body = self.read(|s| ImageBody {
            last_applied: s.last_applied,
            membership: s.membership.clone(),
            catalog: s.catalog.clone(),
        });
        let bytes = image::encode(&body).map_err(to_io)?;
        let index = body.last_applied.as_ref().map(|l| l.index).unwrap_or(0);
        let dir = self.inner.image_dir.clone();
        let data = bytes.clone();
        tokio::task::spawn_blocking(move || image::write_image(&dir, index, &data))
            .await
            .map_err(|e| io::Error::other(format!("write image task: {e}")))?
            .map_err(to_io)?;
        tracing::info!(
            journal_id = index,
            bytes = bytes.len(),
            ms = started.elapsed().as_millis() as u64,
            "wrote checkpoint image"
        );
        Ok(Snapshot {
            meta: SnapshotMeta {
                last_log_id: body.last_applied,
                last_membership: body.membership,
            },
            snapshot: bytes,
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = Vec<u8>;
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        Ok(self.read(|s| (s.last_applied, s.membership.clone())))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        let mut last_index = None;
        while let Some((entry, responder)) = entries.try_next().await? {
            let log_id = entry.log_id;
            let response = self.write(|s| {
                s.last_applied = Some(log_id);
                match &entry.payload {
                    EntryPayload::Blank => JournalResponse::ok(0),
                    EntryPayload::Normal(op) => s.catalog.apply(op),
                    EntryPayload::Membership(m) => {
                        let before: Vec<String> = s
                            .membership
                            .membership()
                            .nodes()
                            .map(|(_, n)| n.name.clone())
                            .collect();
                        s.membership = StoredMembership::new(Some(log_id), m.clone());
                        s.catalog.apply_membership(m);
                        for name in before {
                            if !m.nodes().any(|(_, n)| *n.name == *name) {
                                s.catalog.remember_removed(&name);
                            }
                        }
                        JournalResponse::ok(0)
                    }
                }
            });
            last_index = Some(log_id.index);
            if let Some(responder) = responder {
                responder.send(response);
            }
        }
        if let Some(index) = last_index {
            self.inner.applied_tx.send_replace(index);
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Vec<u8>,
    ) -> Result<(), io::Error> {
        let body = image::decode(&snapshot, "received from the leader").map_err(to_io)?;
        let index = meta.last_log_id.as_ref().map(|l| l.index).unwrap_or(0);
        let dir = self.inner.image_dir.clone();
        tokio::task::spawn_blocking(move || image::write_image(&dir, index, &snapshot))
            .await
            .map_err(|e| io::Error::other(format!("write image task: {e}")))?
            .map_err(to_io)?;
        self.write(|s| {
            s.last_applied = meta.last_log_id;
            s.membership = meta.last_membership.clone();
            s.catalog = body.catalog;
        });
        self.inner.applied_tx.send_replace(index);
        tracing::info!(
            journal_id = index,
            "installed checkpoint image from the leader"
        );
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        let Some((_, path)) = self.current_image()? else {
            return Ok(None);
        };
        let bytes = tokio::fs::read(&path).await?;
        let body = image::decode(&bytes, &path.display().to_string()).map_err(to_io)?;
        Ok(Some(Snapshot {
            meta: SnapshotMeta {
                last_log_id: body.last_applied,
                last_membership: body.membership,
            },
            snapshot: bytes,
        }))
    }
}
