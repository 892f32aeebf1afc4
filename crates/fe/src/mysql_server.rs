//! The MySQL protocol front door on `query_port`.

use std::net::SocketAddr;
use std::sync::Arc;

use common::Error;
use meta::catalog::auth::DEFAULT_MAX_USER_CONNECTIONS;
use mysql::Column;
use mysql::ColumnType;
use mysql::ErrorInfo;
use mysql::HandshakeInfo;
use mysql::OkInfo;
use mysql::QueryOutcome;
use mysql::ResultSet;
use mysql::ServerConfig;
use mysql::Value;
use tokio::net::TcpListener;

use crate::exec;
use crate::frontend::ConnectionInfo;
use crate::frontend::Frontend;
use crate::outcome::Cell;
use crate::outcome::ColType;
use crate::outcome::Outcome;
use crate::session::Session;

/// Maps an error to what a MySQL client sees.
pub fn error_info(e: &Error) -> ErrorInfo {
    let (code, state) = e.code.mysql_error();
    ErrorInfo {
        code,
        sql_state: state.to_string(),
        message: e.message.clone(),
    }
}

fn column_def(name: &str, t: ColType) -> Column {
    let ct = match t {
        ColType::Varchar | ColType::LargeInt => ColumnType::VarString,
        ColType::BigInt => ColumnType::LongLong,
        ColType::Int => ColumnType::Long,
        ColType::Double => ColumnType::Double,
        ColType::DateTime => ColumnType::DateTime,
        ColType::TinyInt => ColumnType::Tiny,
        ColType::SmallInt => ColumnType::Short,
        ColType::Float => ColumnType::Float,
        ColType::Decimal { .. } => ColumnType::NewDecimal,
        ColType::Date => ColumnType::Date,
        ColType::Null => ColumnType::Null,
    };
    let mut c = Column::new(name.to_string(), ct);
    if let ColType::Decimal { precision, scale } = t {
        c.decimals = scale;
        // Digits, the point and a sign.
        c.column_length = u32::from(precision) + 2;
    }
    c
}

/// Converts an outcome to the wire form.
pub fn to_wire(o: Outcome) -> QueryOutcome {
    match o {
        Outcome::Ok { affected, info } => QueryOutcome::Ok(OkInfo {
            affected_rows: affected,
            last_insert_id: 0,
            warnings: 0,
            info,
        }),
        Outcome::Rows(rs) => {
            let columns = rs.columns.iter().map(|(n, t)| column_def(n, *t)).collect();
            let rows = rs
                .rows
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|c| match c {
                            Cell::Null => Value::Null,
                            Cell::Int(v) => Value::Int(v),
                            Cell::Double(v) => Value::Double(v),
                            Cell::Text(s) => Value::Text(s),
                        })
                        .collect()
                })
                .collect();
            QueryOutcome::ResultSet(ResultSet { columns, rows })
        }
    }
}

struct Handler {
    fe: Arc<Frontend>,
}

impl mysql::Handler for Handler {
    type Session = Session;

    async fn authenticate(&self, info: HandshakeInfo<'_>) -> Result<Session, ErrorInfo> {
        let fe = &self.fe;
        let config = fe.config();
        // This connection is registered already: it counts.
        let max = config.qe_max_connection.max(1) as usize;
        if fe.connection_count() > max {
            return Err(ErrorInfo {
                code: 1040,
                sql_state: "08004".into(),
                message: format!(
                    "Too many connections: reach cluster-wide connection limit, \
                     qe_max_connection={max}"
                ),
            });
        }
        let account = crate::auth::authenticate_native(
            fe,
            info.user,
            Some(info.peer.ip()),
            info.scramble,
            info.auth_response,
        )
        .map_err(|e| error_info(&e))?;
        let max_user = fe.journal.state.read(|s| {
            s.catalog
                .user_properties
                .get(info.user)
                .map_or(DEFAULT_MAX_USER_CONNECTIONS, |p| p.max_user_connections)
        });
        let max_user = usize::try_from(max_user.max(1)).unwrap_or(usize::MAX);
        if let Err(held) = fe.try_set_user(info.connection_id, info.user, max_user) {
            tracing::info!(
                user = info.user,
                held,
                max_user,
                "max_user_connections reached"
            );
            return Err(ErrorInfo {
                code: 1203,
                sql_state: "42000".into(),
                message: format!(
                    "User {} already has more than 'max_user_connections' active connections \
                     (max_user_connections={max_user})",
                    info.user
                ),
            });
        }
        let mut session = Session::new(info.connection_id, info.user, Some(info.peer));
        session.host = account.host;
        // What @@max_allowed_packet shows: the limit this connection's reader enforces.
        session.vars.insert(
            "max_allowed_packet".to_string(),
            config.max_allowed_packet.to_string(),
        );
        session.tls = info.tls.cloned();
        if let Some(db) = info.database.filter(|d| !d.is_empty()) {
            if let Err(e) = exec::read_barrier(fe, &mut session).await {
                return Err(error_info(&e));
            }
            exec::database::use_db(fe, &mut session, None, db).map_err(|e| error_info(&e))?;
        }
        fe.set_running(info.connection_id, None, session.database.clone());
        Ok(session)
    }

    async fn query(
        &self,
        session: &mut Session,
        sql: &str,
    ) -> Vec<Result<QueryOutcome, ErrorInfo>> {
        let fe = &self.fe;
        fe.set_running(
            session.connection_id,
            Some(sql.to_string()),
            session.database.clone(),
        );
        let results = exec::execute_sql(fe, session, sql).await;
        fe.set_running(session.connection_id, None, session.database.clone());
        results
            .into_iter()
            .map(|r| r.map(to_wire).map_err(|e| error_info(&e)))
            .collect()
    }

    async fn init_db(&self, session: &mut Session, db: &str) -> Result<(), ErrorInfo> {
        exec::read_barrier(&self.fe, session)
            .await
            .map_err(|e| error_info(&e))?;
        exec::database::use_db(&self.fe, session, None, db)
            .map(|_| ())
            .map_err(|e| error_info(&e))
    }

    async fn close(&self, session: Session) {
        self.fe.unregister_connection(session.connection_id);
    }
}

/// Asks a connection to close (`KILL`).
pub fn request_close(fe: &Frontend, id: u32) {
    if let Some((_, c)) = fe.connections().into_iter().find(|(cid, _)| *cid == id) {
        c.kill.notify_one();
    }
}

/// Accepts MySQL connections until shutdown.
pub async fn serve(fe: Arc<Frontend>, listener: TcpListener) {
    let handler = Arc::new(Handler { fe: fe.clone() });
    let mut shutdown = fe.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer): (_, SocketAddr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(%e, "accept on query_port failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let fe = fe.clone();
        tokio::spawn(async move {
            let id = fe.next_connection_id();
            let config = ServerConfig {
                server_version: fe.mysql_version(),
                max_packet_bytes: usize::try_from(fe.config().max_allowed_packet)
                    .unwrap_or(1024)
                    .max(1024),
                tls: fe.tls.mysql.clone(),
                require_secure_transport: fe.file_config.ssl_force_secure_transport,
            };
            let kill = Arc::new(tokio::sync::Notify::new());
            fe.register_connection(
                id,
                ConnectionInfo {
                    user: "unauthenticated user".to_string(),
                    peer,
                    database: None,
                    connected_ms: common::clock::now_ms(),
                    running: None,
                    kill: kill.clone(),
                    cancel_query: std::sync::Arc::new(tokio::sync::watch::channel(0).0),
                    query_generation: 0,
                },
            );
            let mut shutdown = fe.shutdown.subscribe();
            let serve = mysql::serve_connection(handler, stream, id, peer, &config);
            tokio::pin!(serve);
            let killed = kill.notified();
            tokio::select! {
                r = &mut serve => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, %e, "mysql connection ended with an error");
                    }
                }
                _ = killed => tracing::info!(connection_id = id, "connection killed"),
                _ = shutdown.changed() => {}
            }
            fe.unregister_connection(id);
        });
    }
}
