//! `SELECT` without tables: the session and server values MySQL clients ask for on connect
//! (`SELECT @@version_comment LIMIT 1`, `SELECT DATABASE()`, `SELECT @@tx_isolation`,
//! `SELECT CURRENT_VERSION()`, `SELECT 1`, ...).
//!
//! Queries over tables are planned by the query engine, which this FE does not have yet; such
//! a query is refused with a clear error.

use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use sql::sqlparser::ast::BinaryOperator;
use sql::sqlparser::ast::Expr;
use sql::sqlparser::ast::FunctionArg;
use sql::sqlparser::ast::FunctionArgExpr;
use sql::sqlparser::ast::FunctionArguments;
use sql::sqlparser::ast::LimitClause;
use sql::sqlparser::ast::Query;
use sql::sqlparser::ast::SelectItem;
use sql::sqlparser::ast::SetExpr;
use sql::sqlparser::ast::UnaryOperator;
use sql::sqlparser::ast::Value;

use crate::exec::variables::variable_value;
use crate::frontend::Frontend;
use crate::outcome::Cell;
use crate::outcome::ColType;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

/// The StarRocks release whose behaviour Tessera follows; `CURRENT_VERSION()` reports it so
/// that drivers that check the version (the SQLAlchemy `starrocks` dialect) pick the right
/// features.
pub const STARROCKS_COMPAT_VERSION: &str = "3.3.0";

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::new(
        StatusCode::Unsupported,
        format!("{what} is not supported by this version of Tessera"),
    )
}

/// The text of a literal (or bare word) as `SET` takes it.
pub fn literal_text(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(n.clone()),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            Value::Boolean(b) => Some(if *b { "1" } else { "0" }.to_string()),
            Value::Null => Some(String::new()),
            _ => None,
        },
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => literal_text(expr).map(|t| format!("-{t}")),
        Expr::Nested(inner) => literal_text(inner),
        _ => None,
    }
}

/// Runs a table-less `SELECT`.
pub fn execute(fe: &Arc<Frontend>, session: &Session, q: &Query) -> Result<Outcome> {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(unsupported("this form of query"));
    };
    if !sel.from.is_empty() {
        return Err(unsupported("SELECT over tables"));
    }
    if q.with.is_some() || sel.selection.is_some() || sel.having.is_some() {
        return Err(unsupported("WITH, WHERE or HAVING without FROM"));
    }
    let limit = match &q.limit_clause {
        None => None,
        Some(LimitClause::LimitOffset { limit, offset, .. }) => {
            if offset.is_some() {
                return Err(unsupported("OFFSET without FROM"));
            }
            limit.as_ref().map(eval_limit).transpose()?
        }
        Some(LimitClause::OffsetCommaLimit { limit, .. }) => Some(eval_limit(limit)?),
    };
    let mut rows = RowSet::default();
    let mut row = Vec::new();
    for item in &sel.projection {
        let (name, expr) = match item {
            SelectItem::UnnamedExpr(e) => (column_name(e), e),
            SelectItem::ExprWithAlias { expr, alias } => (alias.value.clone(), expr),
            _ => return Err(unsupported("'*' without FROM")),
        };
        let cell = eval(fe, session, expr)?;
        let ty = match &cell {
            Cell::Int(_) => ColType::BigInt,
            Cell::Double(_) => ColType::Double,
            Cell::Text(_) | Cell::Null => ColType::Varchar,
        };
        rows.columns.push((name, ty));
        row.push(cell);
    }
    if limit != Some(0) {
        rows.push(row);
    }
    Ok(Outcome::Rows(rows))
}

/// The name MySQL gives an unaliased column: a string literal is named by its text, anything
/// else by the expression as written.
fn column_name(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            _ => e.to_string(),
        },
        _ => e.to_string(),
    }
}

fn eval_limit(e: &Expr) -> Result<u64> {
    match literal_text(e).and_then(|t| t.parse::<u64>().ok()) {
        Some(n) => Ok(n),
        None => Err(Error::invalid(format!(
            "LIMIT must be a non-negative integer, got {e}"
        ))),
    }
}

fn system_var_name(ident: &str) -> Option<&str> {
    let rest = ident.strip_prefix("@@")?;
    let lower = rest.to_ascii_lowercase();
    for scope in ["session.", "global.", "local."] {
        if lower.starts_with(scope) {
            return Some(&rest[scope.len()..]);
        }
    }
    Some(rest)
}

/// The value of an expression without tables (a literal, `@@var`, `@var`, a function such as
/// `CONCAT(@@sql_mode, ',STRICT_TRANS_TABLES')`), as `SET var = expr` takes it: text, or
/// `None` for NULL.
pub fn eval_text(fe: &Arc<Frontend>, session: &Session, e: &Expr) -> Result<Option<String>> {
    Ok(match eval(fe, session, e)? {
        Cell::Null => None,
        Cell::Int(v) => Some(v.to_string()),
        Cell::Double(v) => Some(v.to_string()),
        Cell::Text(t) => Some(t),
    })
}

fn eval(fe: &Arc<Frontend>, session: &Session, e: &Expr) -> Result<Cell> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Ok(n
                .parse::<i64>()
                .map(Cell::Int)
                .or_else(|_| n.parse::<f64>().map(Cell::Double))
                .map_err(|_| Error::invalid(format!("bad number {n}")))?),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                Ok(Cell::Text(s.clone()))
            }
            Value::Boolean(b) => Ok(Cell::Int(i64::from(*b))),
            Value::Null => Ok(Cell::Null),
            other => Err(unsupported(format!("the literal {other}"))),
        },
        Expr::Identifier(i) => eval_variable(fe, session, &i.value),
        Expr::CompoundIdentifier(parts) => {
            let joined = parts
                .iter()
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
                .join(".");
            eval_variable(fe, session, &joined)
        }
        Expr::Nested(inner) => eval(fe, session, inner),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match eval(fe, session, expr)? {
            Cell::Int(v) => {
                Ok(Cell::Int(v.checked_neg().ok_or_else(|| {
                    Error::invalid("BIGINT value is out of range")
                })?))
            }
            Cell::Double(v) => Ok(Cell::Double(-v)),
            Cell::Null => Ok(Cell::Null),
            Cell::Text(_) => Err(unsupported("negating text")),
        },
        Expr::BinaryOp { left, op, right } => {
            let l = eval(fe, session, left)?;
            let r = eval(fe, session, right)?;
            arithmetic(&l, op, &r)
        }
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_uppercase();
            let args: Vec<&Expr> = match &f.args {
                FunctionArguments::None => Vec::new(),
                FunctionArguments::List(list) => {
                    let mut out = Vec::new();
                    for a in &list.args {
                        match a {
                            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => out.push(e),
                            _ => return Err(unsupported(format!("the arguments of {name}()"))),
                        }
                    }
                    out
                }
                FunctionArguments::Subquery(_) => return Err(unsupported("a subquery argument")),
            };
            eval_function(fe, session, &name, &args)
        }
        other => Err(unsupported(format!("the expression {other} without FROM"))),
    }
}

fn eval_variable(fe: &Arc<Frontend>, session: &Session, ident: &str) -> Result<Cell> {
    if let Some(name) = system_var_name(ident) {
        let def = crate::session::var_def(name);
        let value = variable_value(fe, session, name).ok_or_else(|| {
            Error::new(
                StatusCode::UnknownVariable,
                format!("Unknown system variable '{name}'"),
            )
        })?;
        if def.is_some_and(|d| d.numeric)
            && let Ok(v) = value.parse::<i64>()
        {
            return Ok(Cell::Int(v));
        }
        return Ok(Cell::Text(value));
    }
    if let Some(user_var) = ident.strip_prefix('@') {
        return Ok(session
            .user_vars
            .get(&user_var.to_ascii_lowercase())
            .cloned()
            .map(Cell::Text)
            .unwrap_or(Cell::Null));
    }
    Err(Error::new(
        StatusCode::Unsupported,
        format!("Unknown column '{ident}' in 'field list' (there is no FROM clause)"),
    ))
}

fn arithmetic(l: &Cell, op: &BinaryOperator, r: &Cell) -> Result<Cell> {
    if matches!(l, Cell::Null) || matches!(r, Cell::Null) {
        return Ok(Cell::Null);
    }
    let num = |c: &Cell| -> Result<f64> {
        match c {
            Cell::Int(v) => Ok(*v as f64),
            Cell::Double(v) => Ok(*v),
            Cell::Text(t) => Ok(t.trim().parse::<f64>().unwrap_or(0.0)),
            Cell::Null => Ok(0.0),
        }
    };
    if let (Cell::Int(a), Cell::Int(b)) = (l, r) {
        let overflow = || Error::invalid("BIGINT value is out of range");
        return match op {
            BinaryOperator::Plus => a.checked_add(*b).map(Cell::Int).ok_or_else(overflow),
            BinaryOperator::Minus => a.checked_sub(*b).map(Cell::Int).ok_or_else(overflow),
            BinaryOperator::Multiply => a.checked_mul(*b).map(Cell::Int).ok_or_else(overflow),
            BinaryOperator::Divide => Ok(if *b == 0 {
                Cell::Null
            } else {
                Cell::Double(*a as f64 / *b as f64)
            }),
            BinaryOperator::Eq => Ok(Cell::Int(i64::from(a == b))),
            BinaryOperator::NotEq => Ok(Cell::Int(i64::from(a != b))),
            BinaryOperator::Lt => Ok(Cell::Int(i64::from(a < b))),
            BinaryOperator::Gt => Ok(Cell::Int(i64::from(a > b))),
            _ => Err(unsupported(format!("the operator {op} without FROM"))),
        };
    }
    let (a, b) = (num(l)?, num(r)?);
    match op {
        BinaryOperator::Plus => Ok(Cell::Double(a + b)),
        BinaryOperator::Minus => Ok(Cell::Double(a - b)),
        BinaryOperator::Multiply => Ok(Cell::Double(a * b)),
        BinaryOperator::Divide => Ok(if b == 0.0 {
            Cell::Null
        } else {
            Cell::Double(a / b)
        }),
        _ => Err(unsupported(format!("the operator {op} without FROM"))),
    }
}

fn eval_function(
    fe: &Arc<Frontend>,
    session: &Session,
    name: &str,
    args: &[&Expr],
) -> Result<Cell> {
    let no_args = |n: &str| -> Result<()> {
        if args.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "Incorrect parameter count in the call to native function '{n}'"
            )))
        }
    };
    match name {
        "DATABASE" | "SCHEMA" => {
            no_args(name)?;
            Ok(session
                .database
                .clone()
                .map(Cell::Text)
                .unwrap_or(Cell::Null))
        }
        "VERSION" => {
            no_args(name)?;
            Ok(Cell::Text(fe.mysql_version()))
        }
        "CURRENT_VERSION" => {
            no_args(name)?;
            Ok(Cell::Text(format!(
                "{STARROCKS_COMPAT_VERSION}-tessera-{}",
                common::VERSION
            )))
        }
        "CONNECTION_ID" => {
            no_args(name)?;
            Ok(Cell::Int(i64::from(session.connection_id)))
        }
        "USER" | "SESSION_USER" | "SYSTEM_USER" => {
            no_args(name)?;
            let host = session
                .peer
                .map(|p| p.ip().to_string())
                .unwrap_or_else(|| "%".into());
            Ok(Cell::Text(format!("'{}'@'{host}'", session.user)))
        }
        "CURRENT_USER" => {
            no_args(name)?;
            Ok(Cell::Text(format!("'{}'@'%'", session.user)))
        }
        "LAST_INSERT_ID" => {
            no_args(name)?;
            Ok(Cell::Int(0))
        }
        "NOW" | "CURRENT_TIMESTAMP" | "SYSDATE" | "LOCALTIME" | "LOCALTIMESTAMP" => {
            no_args(name)?;
            Ok(Cell::Text(
                common::clock::format_ms(common::clock::now_ms()),
            ))
        }
        "CURDATE" | "CURRENT_DATE" => {
            no_args(name)?;
            let s = common::clock::format_ms(common::clock::now_ms());
            Ok(Cell::Text(s.chars().take(10).collect()))
        }
        "CONCAT" => {
            // NULL if any argument is NULL, as in MySQL.
            let mut out = String::new();
            for a in args {
                match eval(fe, session, a)? {
                    Cell::Null => return Ok(Cell::Null),
                    Cell::Int(v) => out.push_str(&v.to_string()),
                    Cell::Double(v) => out.push_str(&v.to_string()),
                    Cell::Text(t) => out.push_str(&t),
                }
            }
            Ok(Cell::Text(out))
        }
        _ => Err(unsupported(format!("the function {name}() without FROM"))),
    }
}
