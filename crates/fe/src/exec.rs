//! Statement execution: parse, route (local or leader), run, answer.
//!
//! Routing follows StarRocks's redirect statuses:
//! - writes (`CREATE/DROP DATABASE`, `ALTER SYSTEM`, `ADMIN SET FRONTEND CONFIG`) run on the
//!   leader; a non-leader forwards them and then waits until it has replayed the journal id the
//!   leader returned, so the session reads its own write on this FE (FORWARD_WITH_SYNC);
//! - `SHOW FRONTENDS` is answered by the leader when one is reachable (FORWARD_NO_SYNC);
//! - everything else runs locally, after the session's read barrier: the session's last
//!   journal id (read-your-writes) or, with `read_consistency = 'linearizable'`, the leader's
//!   read index.

use std::sync::Arc;
use std::time::Duration;

use common::Error;
use common::Result;
use common::StatusCode;
use sql::Statement;
use sql::statements::system::AlterSystemOp;

use crate::forward;
use crate::frontend::Frontend;
use crate::outcome::Outcome;
use crate::session::ReadConsistency;
use crate::session::Session;

pub mod accounts;
pub mod backends;
pub mod config;
pub mod database;
pub mod frontends;
pub mod load;
pub mod repair;
pub mod select;
pub mod tables;
pub mod tablets;
pub mod variables;

/// Where a statement runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// On this FE, after the session's read barrier.
    Local,
    /// On the leader; the session then waits for the returned journal id.
    LeaderWrite,
    /// On the leader if reachable, else locally.
    LeaderRead,
}

/// The route of a statement.
pub fn route_of(stmt: &Statement) -> Route {
    match stmt {
        Statement::CreateDatabase { .. }
        | Statement::DropDatabase { .. }
        | Statement::AlterSystem(_)
        | Statement::AdminSetFrontendConfig { .. }
        | Statement::CreateTable(_)
        | Statement::DropTable { .. }
        | Statement::AlterTable { .. }
        | Statement::AdminRepairTable { .. }
        | Statement::AdminCancelRepairTable { .. }
        | Statement::AdminSetReplicaStatus { .. }
        | Statement::CreateUser { .. }
        | Statement::AlterUser { .. }
        | Statement::DropUser { .. }
        | Statement::SetProperty { .. }
        | Statement::Grant { .. }
        | Statement::Revoke { .. } => Route::LeaderWrite,
        Statement::Set(items)
            if items
                .iter()
                .any(|i| matches!(i, sql::SetItem::Password { .. })) =>
        {
            Route::LeaderWrite
        }
        // The repair queues live in the leader's memory.
        Statement::ShowProc { path } if is_scheduler_path(path) => Route::LeaderRead,
        Statement::ShowFrontends
        | Statement::ShowBackends
        | Statement::ShowTransaction { .. }
        | Statement::ShowLoad { .. } => Route::LeaderRead,
        _ => Route::Local,
    }
}

fn is_scheduler_path(path: &str) -> bool {
    let p = path.trim().trim_start_matches('/');
    p.starts_with("tablet_scheduler") || p.starts_with("cluster_balance")
}

/// Runs every statement of `sql` in order, stopping at the first error.
pub async fn execute_sql(
    fe: &Arc<Frontend>,
    session: &mut Session,
    sql: &str,
) -> Vec<Result<Outcome>> {
    let statements = match sql::parse_statements(sql) {
        Ok(s) => s,
        Err(e) => {
            fe.metrics.request_total.increment(1);
            return vec![Err(Error::new(
                StatusCode::SyntaxError,
                format!("You have an error in your SQL syntax: {e}"),
            ))];
        }
    };
    if statements.is_empty() {
        return vec![Err(Error::new(StatusCode::SyntaxError, "Query was empty"))];
    }
    let mut out = Vec::with_capacity(statements.len());
    for stmt in statements {
        let is_query = matches!(stmt, Statement::Query(_));
        let started = std::time::Instant::now();
        fe.metrics.request_total.increment(1);
        let r = execute_statement(fe, session, stmt, false).await;
        let failed = r.is_err();
        if is_query {
            fe.metrics.query_done(started.elapsed(), !failed);
        }
        out.push(r);
        if failed {
            break;
        }
    }
    out
}

/// Runs one statement. `forwarded` is true on the leader for a statement another FE sent.
pub async fn execute_statement(
    fe: &Arc<Frontend>,
    session: &mut Session,
    mut stmt: Statement,
    forwarded: bool,
) -> Result<Outcome> {
    // Checked here on the FE the client talks to, and again on the leader for a forwarded
    // statement (with the privileges the leader's catalog holds).
    crate::auth::check_statement(fe, session, &stmt)?;
    accounts::hash_passwords(&mut stmt);
    let route = route_of(&stmt);
    if !forwarded && route != Route::Local && !fe.journal.is_leader() {
        match route {
            Route::LeaderWrite => return forward::forward_write(fe, session, &stmt).await,
            Route::LeaderRead => match forward::forward_read(fe, session, &stmt).await {
                Ok(o) => return Ok(o),
                Err(e) => {
                    tracing::debug!(%e, "leader unreachable; answering from local metadata");
                }
            },
            Route::Local => {}
        }
    }
    if route == Route::Local || route == Route::LeaderRead {
        read_barrier(fe, session).await?;
    }
    run(fe, session, stmt).await
}

/// Waits until this FE has replayed what the session must see.
pub async fn read_barrier(fe: &Arc<Frontend>, session: &mut Session) -> Result<()> {
    let timeout = Duration::from_secs(session.query_timeout_secs());
    if session.read_consistency() == ReadConsistency::Linearizable {
        let index = forward::read_index(fe).await?;
        session.last_journal_id = session.last_journal_id.max(index);
    }
    if session.last_journal_id > fe.journal.applied_index() {
        fe.journal
            .wait_applied(session.last_journal_id, timeout)
            .await?;
    }
    Ok(())
}

async fn run(fe: &Arc<Frontend>, session: &mut Session, stmt: Statement) -> Result<Outcome> {
    match stmt {
        Statement::Query(mut q) => {
            crate::query::strip_dual(&mut q);
            if crate::query::is_tableless(&q) {
                match select::execute(fe, session, &q) {
                    Err(e) if e.code == StatusCode::Unsupported => {}
                    other => return other,
                }
            }
            let stmt = sql::sqlparser::ast::Statement::Query(q);
            crate::query::execute(fe, session, stmt, crate::query::Mode::Run).await
        }
        Statement::Explain { level, statement } => {
            let Statement::Query(q) = *statement else {
                return Err(Error::new(
                    StatusCode::Unsupported,
                    "EXPLAIN of INSERT is not supported by this version of Tessera",
                ));
            };
            let mode = match level {
                sql::ExplainLevel::Logical => crate::query::Mode::ExplainLogical,
                sql::ExplainLevel::Verbose | sql::ExplainLevel::Costs => {
                    crate::query::Mode::ExplainVerbose
                }
                sql::ExplainLevel::Normal => crate::query::Mode::Explain,
                sql::ExplainLevel::Analyze => {
                    return Err(Error::new(
                        StatusCode::Unsupported,
                        "EXPLAIN ANALYZE is not supported by this version of Tessera",
                    ));
                }
            };
            let stmt = sql::sqlparser::ast::Statement::Query(q);
            crate::query::execute(fe, session, stmt, mode).await
        }
        Statement::CreateDatabase {
            name,
            if_not_exists,
            properties,
        } => database::create(fe, session, name, if_not_exists, properties).await,
        Statement::DropDatabase {
            name,
            if_exists,
            force,
        } => database::drop(fe, session, name, if_exists, force).await,
        Statement::ShowDatabases { filter } => database::show(fe, session, filter.as_ref()),
        Statement::ShowCreateDatabase { name } => database::show_create(fe, &name),
        Statement::Use { catalog, database } => {
            database::use_db(fe, session, catalog.as_deref(), &database)
        }
        Statement::AlterSystem(op) => match op {
            AlterSystemOp::AddBackend(h) => backends::add(fe, session, &h).await,
            AlterSystemOp::DropBackend { hosts, force } => {
                backends::drop(fe, session, &hosts, force).await
            }
            AlterSystemOp::DecommissionBackend(h) => {
                backends::decommission(fe, session, &h, true).await
            }
            AlterSystemOp::CancelDecommissionBackend(h) => {
                backends::decommission(fe, session, &h, false).await
            }
            other => frontends::alter_system(fe, session, other).await,
        },
        Statement::ShowFrontends => Ok(Outcome::Rows(frontends::show_frontends(fe))),
        Statement::ShowBackends => Ok(Outcome::Rows(backends::show_backends(fe))),
        Statement::CreateTable(c) => tables::create(fe, session, &c).await,
        Statement::DropTable {
            name,
            if_exists,
            force,
        } => tables::drop(fe, session, &name, if_exists, force).await,
        Statement::AlterTable { name, op } => tables::alter(fe, session, &name, &op).await,
        Statement::ShowTables {
            database,
            full,
            filter,
        } => tables::show_tables(fe, session, database.as_deref(), full, filter.as_ref()),
        Statement::ShowCreateTable { name } => tables::show_create(fe, session, &name),
        Statement::Describe { name, .. } => tables::describe(fe, session, &name),
        Statement::ShowColumns {
            full,
            table,
            database,
            filter,
        } => tables::show_columns(
            fe,
            session,
            &table,
            database.as_deref(),
            full,
            filter.as_ref(),
        ),
        Statement::ShowTablet(t) => tablets::show_tablet(fe, session, &t),
        Statement::Insert(i) => load::insert(fe, session, &i).await,
        Statement::ShowTransaction { database, id } => {
            load::show_transaction(fe, session, database.as_deref(), id)
        }
        Statement::ShowLoad {
            database,
            filter,
            order_by,
            limit,
        } => load::show_load(
            fe,
            session,
            database.as_deref(),
            filter.as_ref(),
            &order_by,
            limit.as_ref(),
        ),
        Statement::ShowProc { path } => show_proc(fe, &path),
        Statement::AdminShowReplicaStatus {
            table,
            partitions,
            status_filter,
        } => repair::show_replica_status(fe, session, &table, &partitions, status_filter.as_ref()),
        Statement::AdminShowReplicaDistribution { table, partitions } => {
            repair::show_replica_distribution(fe, session, &table, &partitions)
        }
        Statement::AdminRepairTable { table, partitions } => {
            repair::repair_table(fe, session, &table, &partitions)
        }
        Statement::AdminCancelRepairTable { table, partitions } => {
            repair::cancel_repair_table(fe, session, &table, &partitions)
        }
        Statement::AdminSetReplicaStatus { properties } => {
            repair::set_replica_status(fe, session, &properties).await
        }
        Statement::AdminSetFrontendConfig { items } => config::set(fe, session, items).await,
        Statement::AdminShowFrontendConfig { like } => Ok(config::show(fe, like.as_deref())),
        Statement::Set(items)
            if items
                .iter()
                .any(|i| matches!(i, sql::SetItem::Password { .. })) =>
        {
            match items.as_slice() {
                [sql::SetItem::Password { user, password }] => {
                    let hash = match password {
                        sql::PasswordValue::Plain(p) => crate::auth::hash_password(p),
                        sql::PasswordValue::Hashed(h) => h.clone(),
                    };
                    accounts::set_password(fe, session, user.as_ref(), hash, false).await
                }
                _ => Err(Error::new(
                    StatusCode::Unsupported,
                    "SET PASSWORD must be the only item of its SET statement",
                )),
            }
        }
        Statement::Set(items) => variables::set(fe, session, items),
        Statement::CreateUser {
            if_not_exists,
            user,
            auth,
        } => accounts::create_user(fe, session, &user, auth.as_ref(), if_not_exists).await,
        Statement::AlterUser {
            if_exists,
            user,
            auth,
        } => {
            let hash = match auth {
                sql::UserAuth::Password(p) => crate::auth::hash_password(&p),
                sql::UserAuth::HashedPassword(h) => h,
            };
            accounts::set_password(fe, session, Some(&user), hash, if_exists).await
        }
        Statement::SetProperty { user, properties } => {
            accounts::set_property(fe, session, user.as_deref(), &properties).await
        }
        Statement::DropUser { if_exists, user } => {
            accounts::drop_user(fe, session, &user, if_exists).await
        }
        Statement::Grant {
            privileges,
            object,
            grantee,
        } => accounts::grant(fe, session, &privileges, &object, &grantee, false).await,
        Statement::Revoke {
            privileges,
            object,
            grantee,
        } => accounts::grant(fe, session, &privileges, &object, &grantee, true).await,
        Statement::ShowGrants { all, user } => {
            accounts::show_grants(fe, session, all, user.as_ref())
        }
        Statement::ShowVariables { global, filter } => {
            variables::show_variables(fe, session, global, filter.as_ref())
        }
        Statement::ShowStatus { filter, .. } => {
            variables::show_status(fe, session, filter.as_ref())
        }
        Statement::ShowProcesslist { full } => Ok(variables::show_processlist(fe, session, full)),
        Statement::Kill {
            query_only,
            connection_id,
        } => variables::kill(fe, session, query_only, connection_id),
        Statement::ShowWarnings | Statement::ShowErrors => {
            Ok(Outcome::Rows(crate::outcome::RowSet::with_text_columns(&[
                "Level", "Code", "Message",
            ])))
        }
        Statement::ShowCharset { .. } => Ok(variables::show_charset()),
        Statement::ShowCollation { .. } => Ok(variables::show_collation()),
        Statement::ShowEngines => Ok(variables::show_engines()),
        Statement::Begin | Statement::Commit | Statement::Rollback => Ok(Outcome::ok(0)),
        other => Err(Error::new(
            StatusCode::Unsupported,
            format!(
                "'{}' is not supported by this version of Tessera",
                statement_kind(&other)
            ),
        )),
    }
}

fn show_proc(fe: &Arc<Frontend>, path: &str) -> Result<Outcome> {
    let trimmed = path.trim().trim_end_matches('/');
    let parts: Vec<&str> = trimmed.split('/').filter(|p| !p.is_empty()).collect();
    let not_found = || {
        Error::invalid(format!(
            "Proc path '{path}' doesn't exist; see SHOW PROC '/' for the paths this FE serves"
        ))
    };
    if !trimmed.is_empty() && !trimmed.starts_with('/') {
        return Err(not_found());
    }
    match parts.as_slice() {
        [] => {
            let mut rows = crate::outcome::RowSet::with_text_columns(&["name"]);
            for name in [
                "backends",
                "cluster_balance",
                "dbs",
                "frontends",
                "statistic",
                "tablet_scheduler",
            ] {
                rows.push(vec![name.into()]);
            }
            Ok(Outcome::Rows(rows))
        }
        ["frontends"] => Ok(Outcome::Rows(frontends::show_frontends(fe))),
        ["backends"] => Ok(Outcome::Rows(backends::show_backends(fe))),
        ["backends", id] => {
            let id: i64 = id.parse().map_err(|_| not_found())?;
            Ok(Outcome::Rows(backends::show_backend_disks(fe, id)?))
        }
        ["statistic"] => Ok(Outcome::Rows(repair::show_statistic(fe))),
        ["statistic", db] => Ok(Outcome::Rows(repair::show_statistic_db(fe, db)?)),
        ["tablet_scheduler", rest @ ..] | ["cluster_balance", rest @ ..] => {
            Ok(Outcome::Rows(repair::show_tablet_scheduler(fe, rest)?))
        }
        ["dbs", rest @ ..] => Ok(Outcome::Rows(tablets::show_proc_dbs(fe, rest)?)),
        _ => Err(not_found()),
    }
}

/// A short name for a statement, for error messages.
pub fn statement_kind(stmt: &Statement) -> String {
    let text = stmt.to_string();
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    words.join(" ")
}
