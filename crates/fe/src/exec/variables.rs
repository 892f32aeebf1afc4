//! Session statements: `SET`, `SHOW VARIABLES`, `SHOW STATUS`, `SHOW PROCESSLIST`, `KILL`,
//! and the small `SHOW` answers MySQL clients ask for on connect.

use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use sql::ShowFilter;
use sql::sqlparser::ast::BinaryOperator;
use sql::sqlparser::ast::Expr;
use sql::statements::set::SetItem;
use sql::statements::set::SetValue;
use sql::statements::set::VarScope;

use crate::exec::select::literal_text;
use crate::frontend::Frontend;
use crate::outcome::Cell;
use crate::outcome::ColType;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;
use crate::session::VARIABLES;

/// SQL `LIKE` with `%`, `_` and `\` escapes, case-insensitive as MySQL's default collation.
pub fn like_matches(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let v: Vec<char> = value.to_lowercase().chars().collect();
    // Iterative matcher with backtracking on the last '%'; linear memory, no recursion.
    let (mut pi, mut vi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() {
            match p[pi] {
                '%' => {
                    star = Some((pi, vi));
                    pi += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == v[vi] => {
                    pi += 2;
                    vi += 1;
                    continue;
                }
                '_' => {
                    pi += 1;
                    vi += 1;
                    continue;
                }
                c if c == v[vi] => {
                    pi += 1;
                    vi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sv)) => {
                pi = sp + 1;
                vi = sv + 1;
                star = Some((sp, sv + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether `value` (the column `column` of a SHOW row) passes the filter.
pub fn matches_filter(filter: Option<&ShowFilter>, column: &str, value: &str) -> Result<bool> {
    match filter {
        None => Ok(true),
        Some(ShowFilter::Like(p)) => Ok(like_matches(p, value)),
        Some(ShowFilter::Where(expr)) => eval_where(expr, column, value),
    }
}

fn eval_where(expr: &Expr, column: &str, value: &str) -> Result<bool> {
    let unsupported = || {
        Error::new(
            StatusCode::Unsupported,
            format!(
                "only WHERE {column} = '...', != '...', LIKE '...' (combined with AND/OR) is \
                 supported here"
            ),
        )
    };
    match expr {
        Expr::Nested(e) => eval_where(e, column, value),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::And => {
                Ok(eval_where(left, column, value)? && eval_where(right, column, value)?)
            }
            BinaryOperator::Or => {
                Ok(eval_where(left, column, value)? || eval_where(right, column, value)?)
            }
            BinaryOperator::Eq | BinaryOperator::NotEq => {
                let col = column_name(left).ok_or_else(unsupported)?;
                if !col.eq_ignore_ascii_case(column) {
                    return Err(Error::invalid(format!(
                        "Unknown column '{col}' in 'where clause'"
                    )));
                }
                let lit = literal_text(right).ok_or_else(unsupported)?;
                let eq = lit.eq_ignore_ascii_case(value);
                Ok(if *op == BinaryOperator::Eq { eq } else { !eq })
            }
            _ => Err(unsupported()),
        },
        Expr::Like {
            negated,
            expr,
            pattern,
            ..
        } => {
            let col = column_name(expr).ok_or_else(unsupported)?;
            if !col.eq_ignore_ascii_case(column) {
                return Err(Error::invalid(format!(
                    "Unknown column '{col}' in 'where clause'"
                )));
            }
            let p = literal_text(pattern).ok_or_else(unsupported)?;
            Ok(like_matches(&p, value) != *negated)
        }
        _ => Err(unsupported()),
    }
}

fn column_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        _ => None,
    }
}

/// `SET ...`.
pub fn set(fe: &Arc<Frontend>, session: &mut Session, items: Vec<SetItem>) -> Result<Outcome> {
    // Validate everything first so a bad item leaves the session unchanged.
    let mut next = session.clone();
    for item in items {
        match item {
            SetItem::Variable { scope, name, value } => {
                if scope == VarScope::Global {
                    return Err(Error::new(
                        StatusCode::Unsupported,
                        format!(
                            "SET GLOBAL {name} is not supported; set it for the session, or use \
                             ADMIN SET FRONTEND CONFIG for cluster settings"
                        ),
                    ));
                }
                match value {
                    SetValue::Default => {
                        if crate::session::var_def(&name).is_none() {
                            return Err(Error::new(
                                StatusCode::UnknownVariable,
                                format!("Unknown system variable '{name}'"),
                            ));
                        }
                        if name.eq_ignore_ascii_case("max_allowed_packet") {
                            // Read-only: answers set_var's error.
                            next.set_var(&name, "")?;
                        }
                        next.vars.remove(&name.to_ascii_lowercase());
                    }
                    SetValue::Expr(e) => {
                        // A literal or bare word as written (`SET sql_mode = ANSI`), else the
                        // expression's value, evaluated against the session as it was before
                        // this statement (`SET sql_mode = CONCAT(@@sql_mode, ',X')`).
                        let text = match literal_text(&e) {
                            Some(t) => t,
                            None => crate::exec::select::eval_text(fe, session, &e)
                                .map_err(|err| {
                                    Error::invalid(format!(
                                        "Variable '{name}' can't be set to '{e}': {}",
                                        err.message
                                    ))
                                })?
                                .unwrap_or_default(),
                        };
                        next.set_var(&name, &text)?;
                    }
                }
            }
            SetItem::UserVariable { name, value } => {
                let text = literal_text(&value).ok_or_else(|| {
                    Error::invalid(format!("@{name} can only be set to a literal value here"))
                })?;
                next.user_vars.insert(name.to_ascii_lowercase(), text);
            }
            SetItem::Names { charset, collation } => {
                let cs = charset.unwrap_or_else(|| "utf8".to_string());
                for v in [
                    "character_set_client",
                    "character_set_connection",
                    "character_set_results",
                ] {
                    next.set_var(v, &cs)?;
                }
                if let Some(c) = collation {
                    next.set_var("collation_connection", &c)?;
                }
            }
            SetItem::CharacterSet(cs) => {
                let cs = cs.unwrap_or_else(|| "utf8".to_string());
                for v in ["character_set_client", "character_set_results"] {
                    next.set_var(v, &cs)?;
                }
            }
            SetItem::Password { .. } => {
                return Err(Error::new(
                    StatusCode::Unsupported,
                    "SET PASSWORD is not supported by this version of Tessera",
                ));
            }
            SetItem::Transaction { .. } => {}
        }
    }
    *session = next;
    Ok(Outcome::ok(0))
}

/// The value of a variable as `SHOW VARIABLES` and `@@x` show it.
pub fn variable_value(fe: &Frontend, session: &Session, name: &str) -> Option<String> {
    match name.to_ascii_lowercase().as_str() {
        "version" => Some(fe.mysql_version()),
        "version_comment" => Some(version_comment()),
        _ => session.var(name),
    }
}

/// `@@version_comment`.
pub fn version_comment() -> String {
    format!("Tessera version {} (StarRocks compatible)", common::VERSION)
}

/// `SHOW VARIABLES`.
pub fn show_variables(
    fe: &Arc<Frontend>,
    session: &Session,
    _global: bool,
    filter: Option<&ShowFilter>,
) -> Result<Outcome> {
    let mut rows = RowSet::with_text_columns(&["Variable_name", "Value"]);
    for v in VARIABLES {
        if matches_filter(filter, "Variable_name", v.name)? {
            let value = variable_value(fe, session, v.name).unwrap_or_default();
            rows.push(vec![v.name.into(), value.into()]);
        }
    }
    Ok(Outcome::Rows(rows))
}

/// `SHOW STATUS`.
/// `Ssl_cipher` and `Ssl_version` are this connection's TLS session (empty without TLS, as
/// in MySQL).
pub fn show_status(
    fe: &Arc<Frontend>,
    session: &Session,
    filter: Option<&ShowFilter>,
) -> Result<Outcome> {
    let uptime = ((common::clock::now_ms() - fe.start_time_ms) / 1000).max(0);
    let (cipher, version) = session
        .tls
        .as_ref()
        .map(|t| (t.cipher.clone(), t.version.clone()))
        .unwrap_or_default();
    let status = [
        ("Ssl_cipher", cipher),
        ("Ssl_version", version),
        ("Threads_connected", fe.connection_count().to_string()),
        ("Uptime", uptime.to_string()),
    ];
    let mut rows = RowSet::with_text_columns(&["Variable_name", "Value"]);
    for (k, v) in status {
        if matches_filter(filter, "Variable_name", k)? {
            rows.push(vec![k.into(), v.into()]);
        }
    }
    Ok(Outcome::Rows(rows))
}

/// Whether the session may see and end other users' connections (OPERATOR, as StarRocks's
/// ADMIN/OPERATOR; root holds it).
fn sees_all_connections(fe: &Frontend, session: &Session) -> bool {
    crate::auth::session_user(fe, session)
        .is_some_and(|u| u.has(meta::catalog::auth::Priv::Operator, None, None))
}

/// `SHOW PROCESSLIST`: a user without OPERATOR sees only their own connections.
pub fn show_processlist(fe: &Arc<Frontend>, session: &Session, full: bool) -> Outcome {
    let all = sees_all_connections(fe, session);
    let mut rows = RowSet {
        columns: vec![
            ("Id".into(), ColType::BigInt),
            ("User".into(), ColType::Varchar),
            ("Host".into(), ColType::Varchar),
            ("Db".into(), ColType::Varchar),
            ("Command".into(), ColType::Varchar),
            ("ConnectionStartTime".into(), ColType::Varchar),
            ("Time".into(), ColType::BigInt),
            ("State".into(), ColType::Varchar),
            ("Info".into(), ColType::Varchar),
        ],
        rows: Vec::new(),
    };
    let now = common::clock::now_ms();
    for (id, c) in fe.connections() {
        if !all && c.user != session.user {
            continue;
        }
        let info = c.running.clone().map(|s| {
            if full || s.chars().count() <= 100 {
                s
            } else {
                s.chars().take(100).collect()
            }
        });
        rows.push(vec![
            Cell::Int(i64::from(id)),
            c.user.clone().into(),
            c.peer.to_string().into(),
            c.database.clone().map(Cell::Text).unwrap_or(Cell::Null),
            if info.is_some() { "Query" } else { "Sleep" }.into(),
            common::clock::format_ms(c.connected_ms).into(),
            Cell::Int(((now - c.connected_ms) / 1000).max(0)),
            "OK".into(),
            info.map(Cell::Text).unwrap_or(Cell::Null),
        ]);
    }
    Outcome::Rows(rows)
}

/// `KILL [QUERY] id`: statements on this FE finish quickly (metadata only), so a KILL of an
/// existing connection ends it at its next statement boundary.
pub fn kill(fe: &Arc<Frontend>, session: &Session, query_only: bool, id: u64) -> Result<Outcome> {
    let Some((_, c)) = fe
        .connections()
        .into_iter()
        .find(|(cid, _)| u64::from(*cid) == id)
    else {
        return Err(Error::invalid(format!("Unknown thread id: {id}")));
    };
    if c.user != session.user && !sees_all_connections(fe, session) {
        return Err(Error::new(
            StatusCode::PermissionDenied,
            format!("You are not owner of thread {id}"),
        ));
    }
    fe.cancel_query(id as u32);
    if !query_only {
        crate::mysql_server::request_close(fe, id as u32);
    }
    Ok(Outcome::ok(0))
}

/// `SHOW CHARSET`.
pub fn show_charset() -> Outcome {
    let mut rows =
        RowSet::with_text_columns(&["Charset", "Description", "Default collation", "Maxlen"]);
    rows.push(vec![
        "utf8".into(),
        "UTF-8 Unicode".into(),
        "utf8_general_ci".into(),
        "3".into(),
    ]);
    rows.push(vec![
        "utf8mb4".into(),
        "UTF-8 Unicode".into(),
        "utf8mb4_general_ci".into(),
        "4".into(),
    ]);
    Outcome::Rows(rows)
}

/// `SHOW COLLATION`.
pub fn show_collation() -> Outcome {
    let mut rows = RowSet::with_text_columns(&[
        "Collation",
        "Charset",
        "Id",
        "Default",
        "Compiled",
        "Sortlen",
    ]);
    rows.push(vec![
        "utf8_general_ci".into(),
        "utf8".into(),
        "33".into(),
        "Yes".into(),
        "Yes".into(),
        "1".into(),
    ]);
    rows.push(vec![
        "utf8mb4_general_ci".into(),
        "utf8mb4".into(),
        "45".into(),
        "Yes".into(),
        "Yes".into(),
        "1".into(),
    ]);
    Outcome::Rows(rows)
}

/// `SHOW ENGINES`.
pub fn show_engines() -> Outcome {
    let mut rows = RowSet::with_text_columns(&[
        "Engine",
        "Support",
        "Comment",
        "Transactions",
        "XA",
        "Savepoints",
    ]);
    rows.push(vec![
        "OLAP".into(),
        "DEFAULT".into(),
        "Default storage engine of Tessera".into(),
        "YES".into(),
        "NO".into(),
        "NO".into(),
    ]);
    Outcome::Rows(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like() {
        assert!(like_matches("sql_mode", "sql_mode"));
        assert!(like_matches("SQL%", "sql_mode"));
        assert!(like_matches("%mode", "sql_mode"));
        assert!(like_matches("sql_mod_", "sql_mode"));
        assert!(!like_matches("sql_mod", "sql_mode"));
        assert!(like_matches("%", ""));
        assert!(like_matches("a%b%c", "axxbyyc"));
        assert!(!like_matches("a%b%c", "axxbyy"));
        assert!(like_matches("run\\_mode", "run_mode"));
        assert!(!like_matches("run\\_mode", "runxmode"));
    }
}
