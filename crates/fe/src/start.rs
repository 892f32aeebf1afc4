//! Starting a frontend: address, ports, identity (bootstrap or `--helper` join), servers.
//!
//! ```text
//! meta_dir has VERSION+ROLE? ── yes ──► rejoin with the stored identity (no helper needed)
//!        │ no
//!        ├── no --helper ──► bootstrap a new cluster: new cluster id, node 1, FOLLOWER
//!        └── --helper h:p ──► ask the helper (it asks the leader) who we are: refused unless
//!                              ALTER SYSTEM ADD FOLLOWER|OBSERVER named this host:port, the
//!                              cluster ids agree and the clocks are within 5 s; nothing is
//!                              written to meta_dir unless the join is accepted
//! ```

use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::Error;
use common::Result;
use common::StatusCode;
use common::config::fe::FeConfig;
use common::net::HostPort;
use meta::FeNode;
use meta::FrontendRole;
use meta::Journal;
use meta::JournalConfig;
use meta::meta_dir;
use meta::meta_dir::RoleFile;
use meta::meta_dir::VersionFile;
use meta::rpc::ChannelPool;
use openraft::async_runtime::WatchReceiver;
use proto::auth;
use proto::auth::TokenGuard;
use proto::frontend_service_server::FrontendServiceServer;
use proto::meta_service_client::MetaServiceClient;
use proto::meta_service_server::MetaServiceServer;
use tokio::net::TcpListener;

use crate::frontend::Frontend;
use crate::services::FrontendServiceImpl;
use crate::services::MetaServiceImpl;

/// How long a new FE keeps trying to reach its helper.
const HELPER_RETRY: Duration = Duration::from_secs(30);

/// A running frontend.
pub struct FeHandle {
    /// The shared state.
    pub fe: Arc<Frontend>,
    exit: tokio::sync::watch::Receiver<Option<String>>,
}

impl FeHandle {
    /// Stops every server and task and raft.
    pub async fn shutdown(&self) {
        let _ = self.fe.shutdown.send(true);
        self.fe.journal.shutdown().await;
    }

    /// Waits until the frontend decides to stop by itself (it was dropped from the cluster);
    /// returns why.
    pub async fn wait_exit(&mut self) -> String {
        loop {
            if let Some(why) = self.exit.borrow_and_update().clone() {
                return why;
            }
            if self.exit.changed().await.is_err() {
                return "stopped".to_string();
            }
        }
    }
}

async fn bind(addr: Ipv4Addr, port: i32, key: &str) -> Result<TcpListener> {
    let sa = SocketAddr::from((addr, port as u16));
    TcpListener::bind(sa).await.map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            "is already in use (is another frontend or program running on this address?)"
                .to_string()
        } else {
            format!("cannot be opened: {e}")
        };
        Error::new(StatusCode::InvalidArgument, format!("{key} {sa} {why}"))
    })
}

fn lock_meta_dir(meta: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(meta)
        .map_err(|e| Error::io(format!("create meta_dir {}", meta.display()), e))?;
    let path = meta.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::invalid(format!(
            "meta_dir {} is in use by another frontend process",
            meta.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("lock {}", path.display()), e))
        }
    }
}

async fn ask_helper(
    pool: &ChannelPool,
    helper: &HostPort,
    me: &HostPort,
    cluster_id: i32,
) -> Result<proto::JoinReply> {
    let deadline = tokio::time::Instant::now() + HELPER_RETRY;
    loop {
        let channel = pool
            .channel(&helper.to_string())
            .map_err(|e| Error::invalid(format!("--helper {helper}: {e}")))?;
        let mut client = MetaServiceClient::new(channel);
        let req = pool.request(
            proto::JoinRequest {
                host: me.host.clone(),
                edit_log_port: u32::from(me.port),
                cluster_id,
                clock_ms: common::clock::now_ms(),
            },
            Duration::from_secs(10),
        );
        match client.join(req).await {
            Ok(reply) => {
                let reply = reply.into_inner();
                let transient = !reply.ok
                    && [StatusCode::NoLeader, StatusCode::NotLeader]
                        .iter()
                        .any(|c| c.number() == reply.error_code);
                if transient && tokio::time::Instant::now() < deadline {
                    tracing::warn!(%helper, error = %reply.error, "the helper's cluster has no leader yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                return Ok(reply);
            }
            Err(status)
                if status.code() == tonic::Code::Unavailable
                    && tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(%helper, %status, "cannot reach the helper yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(status) => {
                return Err(Error::new(
                    StatusCode::Unreachable,
                    format!(
                        "cannot join through the helper {helper}: {}. Check that it is a running \
                         frontend of the cluster and that host:port is its edit_log_port",
                        status.message(),
                    ),
                ));
            }
        }
    }
}

fn refused(reply: &proto::JoinReply, helper: &HostPort) -> Error {
    Error::new(
        StatusCode::from_number(reply.error_code).unwrap_or(StatusCode::NodeNotAdded),
        format!("the helper {helper} refused this frontend: {}", reply.error),
    )
}

/// Starts a frontend.
pub async fn start(config: FeConfig, helper: Option<&str>) -> Result<FeHandle> {
    config.validate()?;
    // Bad TLS files stop the start here, before any port or meta_dir is touched.
    let tls = crate::frontend::Tls::load(&config)?;
    common::clock::set_offset_ms(config.debug_clock_offset_ms);
    let locals = common::net::local_ipv4_addrs()?;
    let address =
        common::net::choose_address(&config.priority_networks, &config.frontend_address, &locals)?;
    let me = HostPort::new(address.to_string(), config.edit_log_port as u16);
    let helper = match helper {
        Some(h) => {
            let hp = HostPort::parse(h)
                .map_err(|e| Error::invalid(format!("--helper: {}", e.message)))?;
            if hp == me {
                return Err(Error::invalid(format!(
                    "Do not specify the helper node to FE itself ({me}). Please specify it to the \
                     existing running Leader or Follower FE"
                )));
            }
            Some(hp)
        }
        None => None,
    };
    // Take every port before touching meta_dir: a second FE on this address fails cleanly.
    let edit_log = bind(address, config.edit_log_port, "edit_log_port").await?;
    let rpc = bind(address, config.rpc_port, "rpc_port").await?;
    let http = bind(address, config.http_port, "http_port").await?;
    let query = bind(address, config.query_port, "query_port").await?;
    let meta = config.meta_path();
    // A new FE that joins creates its meta_dir only once the helper accepted it, so a refused
    // join leaves nothing behind.
    let joining_fresh = helper.is_some() && meta_dir::load(&meta)?.is_none();
    let mut lock = if joining_fresh {
        None
    } else {
        Some(lock_meta_dir(&meta)?)
    };

    let start_time_ms = common::clock::now_ms();
    let pool = ChannelPool::new(0);
    let stored = meta_dir::load(&meta)?;
    let mut bootstrap = false;
    let (version, role) = match stored {
        Some((v, r)) => {
            if config.cluster_id != -1 && config.cluster_id != v.cluster_id {
                return Err(Error::new(
                    StatusCode::ClusterIdMismatch,
                    format!(
                        "cluster_id = {} in fe.conf differs from the cluster id {} stored in {}",
                        config.cluster_id,
                        v.cluster_id,
                        meta.display()
                    ),
                ));
            }
            if let Some(h) = &helper {
                pool.set_cluster_id(v.cluster_id);
                pool.set_token(&v.token);
                let reply = ask_helper(&pool, h, &me, v.cluster_id).await?;
                if !reply.ok {
                    return Err(refused(&reply, h));
                }
                if reply.node_id != r.node_id {
                    return Err(Error::new(
                        StatusCode::MetaCorrupted,
                        format!(
                            "meta_dir {} belongs to an earlier membership of {me} (node {}); the \
                             cluster now knows it as node {}. Move meta_dir away and start again \
                             with --helper",
                            meta.display(),
                            r.node_id,
                            reply.node_id
                        ),
                    ));
                }
            }
            (v, r)
        }
        None => match &helper {
            None => {
                bootstrap = true;
                let cluster_id = if config.cluster_id > 0 {
                    config.cluster_id
                } else {
                    meta_dir::new_cluster_id()
                };
                (
                    VersionFile {
                        cluster_id,
                        token: meta_dir::new_token(),
                    },
                    RoleFile {
                        role: FrontendRole::Follower,
                        name: format!("{}_{}_{}", me.host, me.port, start_time_ms),
                        node_id: 1,
                    },
                )
            }
            Some(h) => {
                let reply = ask_helper(&pool, h, &me, 0).await?;
                if !reply.ok {
                    return Err(refused(&reply, h));
                }
                if config.cluster_id != -1 && config.cluster_id != reply.cluster_id {
                    return Err(Error::new(
                        StatusCode::ClusterIdMismatch,
                        format!(
                            "cluster_id = {} in fe.conf differs from the helper's cluster {}",
                            config.cluster_id, reply.cluster_id
                        ),
                    ));
                }
                let role = FrontendRole::parse(&reply.role).ok_or_else(|| {
                    Error::internal(format!(
                        "the helper answered an unknown role '{}'",
                        reply.role
                    ))
                })?;
                let v = VersionFile {
                    cluster_id: reply.cluster_id,
                    token: reply.token.clone(),
                };
                let r = RoleFile {
                    role,
                    name: reply.name.clone(),
                    node_id: reply.node_id,
                };
                lock = Some(lock_meta_dir(&meta)?);
                if meta_dir::load(&meta)?.is_some() {
                    return Err(Error::invalid(format!(
                        "another process initialized meta_dir {} while this one was joining",
                        meta.display()
                    )));
                }
                meta_dir::store(&meta, &v, &r)?;
                tracing::info!(node_id = r.node_id, role = %r.role, "joined the cluster through the helper");
                (v, r)
            }
        },
    };
    pool.set_cluster_id(version.cluster_id);
    pool.set_token(&version.token);

    let journal = Journal::open(
        JournalConfig {
            node_id: role.node_id,
            cluster_id: version.cluster_id,
            meta_dir: meta.clone(),
            heartbeat_interval_ms: config.raft_heartbeat_interval_ms as u64,
            election_timeout_ms: config.raft_election_timeout_ms as u64,
            checkpoint_every: config.edit_log_roll_num as u64,
        },
        pool,
    )
    .await?;
    let node = FeNode {
        host: me.host.clone(),
        edit_log_port: me.port,
        name: role.name.clone(),
        role: role.role,
    };
    if bootstrap {
        journal.bootstrap(node.clone()).await?;
        meta_dir::store(&meta, &version, &role)?;
        tracing::info!(
            cluster_id = version.cluster_id,
            "bootstrapped a new cluster"
        );
    }
    // The stored membership must still name this node at this address.
    let registered = journal
        .state
        .read(|s| s.membership.membership().get_node(&role.node_id).cloned());
    if let Some(reg) = &registered
        && (reg.host != node.host || reg.edit_log_port != node.edit_log_port)
    {
        return Err(Error::invalid(format!(
            "this frontend is registered as {} but now advertises {me}; fix priority_networks \
             (or drop and re-add it with the new address)",
            reg.addr()
        )));
    }

    let mut frontend = Frontend::new(
        config.clone(),
        journal,
        node,
        version.cluster_id,
        version.token.clone(),
        address,
        start_time_ms,
    );
    frontend.tls = tls;
    let fe = Arc::new(frontend);
    let (exit_tx, exit_rx) = tokio::sync::watch::channel(None);
    spawn_servers(&fe, edit_log, rpc, http, query);
    tokio::spawn(crate::leader::run(fe.clone()));
    tokio::spawn(crate::txn::run_daemon(fe.clone()));
    tokio::spawn(crate::repair::run(fe.clone()));
    fe.journal.spawn_failover_watch(fe.shutdown.subscribe());
    fe.journal.spawn_role_log(fe.shutdown.subscribe());
    {
        let fe2 = fe.clone();
        fe.journal
            .spawn_leader_change_watch(fe.shutdown.subscribe(), move || {
                fe2.metrics.leader_changes.increment(1)
            });
    }
    crate::metrics::FeMetrics::spawn_upkeep(&fe);
    tokio::spawn(watch_membership(fe.clone(), exit_tx, registered.is_some()));
    // The lock lives as long as the process.
    std::mem::forget(lock);
    tracing::info!(
        %me,
        node_id = fe.node_id,
        cluster_id = fe.cluster_id,
        role = %fe.node.role,
        query_port = config.query_port,
        "frontend started"
    );
    Ok(FeHandle { fe, exit: exit_rx })
}

/// The check of the cluster token on this frontend's gRPC servers: each refusal is logged
/// (never with a token) and counted in `starrocks_fe_node_auth_refused_total`.
pub(crate) fn token_guard(fe: &Arc<Frontend>) -> TokenGuard {
    let token: Arc<str> = Arc::from(fe.token.as_str());
    let fe = fe.clone();
    TokenGuard::new(
        move || Some(token.clone()),
        move |r| {
            r.log();
            fe.metrics.node_auth_refused(r);
        },
    )
}

fn spawn_servers(
    fe: &Arc<Frontend>,
    edit_log: TcpListener,
    rpc: TcpListener,
    http: TcpListener,
    query: TcpListener,
) {
    let max = proto::MAX_MESSAGE_BYTES;
    let guard = token_guard(fe);
    // edit_log_port: raft, membership and forwarded statements between frontends. Everything
    // needs the cluster token but Join, which answers only frontends ALTER SYSTEM ADDed.
    {
        let fe = fe.clone();
        let router = tonic::transport::Server::builder()
            .add_service(guard.wrap(fe.journal.raft_service(), auth::RAFT_METHODS, &[]))
            .add_service(guard.wrap(
                MetaServiceServer::new(MetaServiceImpl { fe: fe.clone() }),
                auth::META_METHODS,
                &["Join"],
            ))
            .add_service(
                guard.wrap(
                    FrontendServiceServer::new(FrontendServiceImpl { fe: fe.clone() })
                        .max_decoding_message_size(max)
                        .max_encoding_message_size(max),
                    auth::FRONTEND_METHODS,
                    &[],
                ),
            );
        let mut shutdown = fe.shutdown.subscribe();
        tokio::spawn(async move {
            // Server::tcp_nodelay is ignored for a caller-supplied listener; without
            // TCP_NODELAY small raft acks meet delayed ACKs and stall ~40 ms.
            let incoming =
                tonic::transport::server::TcpIncoming::from(edit_log).with_nodelay(Some(true));
            let r = router
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = shutdown.changed().await;
                })
                .await;
            if let Err(e) = r {
                tracing::error!(%e, "edit_log_port server stopped");
            }
        });
    }
    // rpc_port: the frontend service (backends and tools call it).
    {
        let fe = fe.clone();
        let router = tonic::transport::Server::builder().add_service(
            guard.wrap(
                FrontendServiceServer::new(FrontendServiceImpl { fe: fe.clone() })
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
                auth::FRONTEND_METHODS,
                &[],
            ),
        );
        let mut shutdown = fe.shutdown.subscribe();
        tokio::spawn(async move {
            let incoming =
                tonic::transport::server::TcpIncoming::from(rpc).with_nodelay(Some(true));
            let r = router
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = shutdown.changed().await;
                })
                .await;
            if let Err(e) = r {
                tracing::error!(%e, "rpc_port server stopped");
            }
        });
    }
    tokio::spawn(crate::http::serve(fe.clone(), http));
    tokio::spawn(crate::mysql_server::serve(fe.clone(), query));
}

/// How often a non-leader asks the leader whether it is still a member.
const MEMBERSHIP_CHECK: Duration = Duration::from_secs(3);

/// Asks the leader whether this node is still a member: a node that was dropped while it was
/// cut off (or down) never receives the membership entry that removes it.
async fn still_member(fe: &Frontend) -> Option<bool> {
    if fe.journal.is_leader() {
        return Some(true);
    }
    let (_, leader) = fe.journal.leader()?;
    let channel = fe.journal.pool.channel(&leader.addr()).ok()?;
    let mut client = MetaServiceClient::new(channel);
    let req = fe.journal.pool.request(
        proto::JoinRequest {
            host: fe.node.host.clone(),
            edit_log_port: u32::from(fe.node.edit_log_port),
            cluster_id: fe.cluster_id,
            clock_ms: common::clock::now_ms(),
        },
        fe.rpc_timeout(),
    );
    let reply = client.join(req).await.ok()?.into_inner();
    if reply.ok {
        return Some(reply.node_id == fe.node_id);
    }
    (reply.error_code == StatusCode::NodeNotAdded.number()).then_some(false)
}

/// Stops the process when this frontend is dropped from the membership.
async fn watch_membership(
    fe: Arc<Frontend>,
    exit: tokio::sync::watch::Sender<Option<String>>,
    mut was_member: bool,
) {
    let mut metrics = fe.journal.raft.metrics();
    let mut shutdown = fe.shutdown.subscribe();
    let mut check = tokio::time::interval(MEMBERSHIP_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (is_member, committed) = {
            let m = metrics.borrow_watched();
            let c = &m.committed_membership_config;
            (
                c.membership().get_node(&fe.node_id).is_some(),
                c.log_id().is_some(),
            )
        };
        if is_member {
            was_member = true;
        } else if was_member && committed {
            let why = format!(
                "this frontend ({}) was dropped from the cluster; to use it again, move its \
                 meta_dir away, ALTER SYSTEM ADD it and start it with --helper",
                fe.node.addr()
            );
            tracing::error!("{why}");
            let _ = exit.send(Some(why));
            return;
        }
        tokio::select! {
            r = metrics.changed() => if r.is_err() { return },
            _ = shutdown.changed() => return,
            _ = check.tick() => {
                if still_member(&fe).await == Some(false) {
                    let why = format!(
                        "this frontend ({}) is no longer a member of the cluster (the leader does \
                         not know it as node {}); to use it again, move its meta_dir away, ALTER \
                         SYSTEM ADD it and start it with --helper",
                        fe.node.addr(),
                        fe.node_id
                    );
                    tracing::error!("{why}");
                    let _ = exit.send(Some(why));
                    return;
                }
            }
        }
    }
}
