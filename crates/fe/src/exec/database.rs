//! `CREATE DATABASE`, `DROP DATABASE`, `SHOW DATABASES`, `USE`.

use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use meta::JournalOp;
use sql::ShowFilter;

use crate::exec::variables::matches_filter;
use crate::frontend::Frontend;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

/// Databases every FE shows besides the user's (answered from the catalog itself).
pub const SYSTEM_DATABASES: &[&str] = &["information_schema"];

/// A name as an error message shows it: at most 80 characters, then `...`.
pub fn shown_name(name: &str) -> String {
    if name.chars().count() <= 80 {
        name.to_string()
    } else {
        format!("{}...", name.chars().take(80).collect::<String>())
    }
}

/// Checks that a name has 1 to `max_chars` characters (fe.conf's `max_identifier_length`).
pub fn check_length(kind: &str, name: &str, max_chars: usize) -> Result<()> {
    let n = name.chars().count();
    if n == 0 {
        return Err(Error::invalid(format!(
            "Incorrect {kind} name '': it is empty"
        )));
    }
    if n > max_chars {
        return Err(Error::invalid(format!(
            "Incorrect {kind} name '{}': it has {n} characters, more than \
             max_identifier_length ({max_chars}) allows",
            shown_name(name)
        )));
    }
    Ok(())
}

/// Checks a database or table name (StarRocks's rules: letters, digits, `_`, `-`; starts
/// with a letter or `_`; at most `max_chars` characters).
pub fn check_name(kind: &str, name: &str, max_chars: usize) -> Result<()> {
    check_length(kind, name, max_chars)?;
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !ok_first {
        return Err(Error::invalid(format!(
            "Incorrect {kind} name '{}': it must start with a letter or '_'",
            shown_name(name)
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(Error::invalid(format!(
            "Incorrect {kind} name '{}': '{c}' is not allowed (letters, digits, '_' and '-')",
            shown_name(name)
        )));
    }
    Ok(())
}

/// Writes an op through the journal (this FE is the leader) and records its journal id.
pub async fn write_op(fe: &Arc<Frontend>, session: &mut Session, op: JournalOp) -> Result<u64> {
    let (journal_id, affected) = fe.journal.write(op, fe.write_timeout()).await?;
    session.last_journal_id = session.last_journal_id.max(journal_id);
    Ok(affected)
}

/// `CREATE DATABASE`.
pub async fn create(
    fe: &Arc<Frontend>,
    session: &mut Session,
    name: String,
    if_not_exists: bool,
    properties: Vec<(String, String)>,
) -> Result<Outcome> {
    check_name(
        "database",
        &name,
        fe.config().max_identifier_length.max(1) as usize,
    )?;
    if SYSTEM_DATABASES
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&name))
    {
        return Err(Error::new(
            StatusCode::DatabaseAlreadyExists,
            format!("Can't create database '{name}'; database exists"),
        ));
    }
    if let Some((k, _)) = properties.first() {
        return Err(Error::invalid(format!("Unknown database property '{k}'")));
    }
    let op = JournalOp::CreateDatabase {
        name,
        if_not_exists,
        create_time_ms: common::clock::now_ms(),
    };
    Ok(Outcome::ok(write_op(fe, session, op).await?))
}

/// `DROP DATABASE`.
pub async fn drop(
    fe: &Arc<Frontend>,
    session: &mut Session,
    name: String,
    if_exists: bool,
    force: bool,
) -> Result<Outcome> {
    if SYSTEM_DATABASES
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&name))
    {
        return Err(Error::new(
            StatusCode::PermissionDenied,
            format!("Access denied; '{name}' is a system database and cannot be dropped"),
        ));
    }
    let replicas: Vec<(i64, i64, i64)> = if force {
        fe.journal.state.read(|s| {
            s.catalog
                .databases
                .get(&name)
                .map(|db| {
                    db.tables
                        .values()
                        .flat_map(crate::leader::replicas_of)
                        .collect()
                })
                .unwrap_or_default()
        })
    } else {
        Vec::new()
    };
    let op = JournalOp::DropDatabase {
        name: name.clone(),
        if_exists,
        force,
        time_ms: common::clock::now_ms(),
    };
    let affected = write_op(fe, session, op).await?;
    if !replicas.is_empty() {
        crate::backend::drop_replicas(fe, replicas).await;
    }
    if session.database.as_deref() == Some(name.as_str()) && affected > 0 {
        session.database = None;
    }
    Ok(Outcome::ok(affected))
}

/// `SHOW DATABASES`.
pub fn show(fe: &Arc<Frontend>, session: &Session, filter: Option<&ShowFilter>) -> Result<Outcome> {
    let user = crate::auth::session_user(fe, session);
    // Only the databases the user holds a privilege on (as StarRocks lists them).
    let mut names: Vec<String> = fe.journal.state.read(|s| {
        s.catalog
            .databases
            .keys()
            .filter(|d| user.as_ref().is_some_and(|u| u.can_see_db(d)))
            .cloned()
            .collect()
    });
    names.extend(SYSTEM_DATABASES.iter().map(|s| s.to_string()));
    names.sort();
    let mut rows = RowSet::with_text_columns(&["Database"]);
    for n in names {
        if matches_filter(filter, "Database", &n)? {
            rows.push(vec![n.into()]);
        }
    }
    Ok(Outcome::Rows(rows))
}

/// `SHOW CREATE DATABASE`.
pub fn show_create(fe: &Arc<Frontend>, name: &str) -> Result<Outcome> {
    if !exists(fe, name) {
        return Err(unknown_database(name));
    }
    let mut rows = RowSet::with_text_columns(&["Database", "Create Database"]);
    rows.push(vec![
        name.into(),
        format!("CREATE DATABASE `{name}`").into(),
    ]);
    Ok(Outcome::Rows(rows))
}

/// Whether a database exists (system ones included).
pub fn exists(fe: &Frontend, name: &str) -> bool {
    SYSTEM_DATABASES
        .iter()
        .any(|d| d.eq_ignore_ascii_case(name))
        || fe
            .journal
            .state
            .read(|s| s.catalog.databases.contains_key(name))
}

/// MySQL's error for an unknown database.
pub fn unknown_database(name: &str) -> Error {
    Error::new(
        StatusCode::DatabaseNotFound,
        format!("Unknown database '{name}'"),
    )
}

/// `USE db` (also COM_INIT_DB).
pub fn use_db(
    fe: &Arc<Frontend>,
    session: &mut Session,
    catalog: Option<&str>,
    database: &str,
) -> Result<Outcome> {
    if let Some(c) = catalog
        && c != "default_catalog"
    {
        return Err(Error::invalid(format!(
            "Unknown catalog '{c}'; this cluster has only default_catalog"
        )));
    }
    if !exists(fe, database) {
        return Err(unknown_database(database));
    }
    crate::auth::check_statement(
        fe,
        session,
        &sql::Statement::ShowCreateDatabase {
            name: database.to_string(),
        },
    )?;
    session.database = Some(database.to_string());
    Ok(Outcome::ok(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        check_name("database", "db_1-x", 256).expect("ok");
        assert!(check_name("database", "", 256).is_err());
        assert!(check_name("database", "1db", 256).is_err());
        assert!(check_name("database", "a b", 256).is_err());
        assert!(check_name("database", "a;drop", 256).is_err());
        assert!(check_name("database", &"a".repeat(300), 256).is_err());
        // The length limit is max_identifier_length's, and the error names the name.
        check_name("database", &"a".repeat(10), 10).expect("at the limit");
        let e = check_name("database", &"a".repeat(11), 10).expect_err("too long");
        assert!(
            e.message.contains("max_identifier_length (10)"),
            "{}",
            e.message
        );
        assert!(e.message.contains(&"a".repeat(11)), "{}", e.message);
        let e = check_name("table", &"b".repeat(500), 256).expect_err("too long");
        assert!(e.message.contains("has 500 characters"), "{}", e.message);
        assert!(
            e.message.len() < 300,
            "the name is shortened: {}",
            e.message
        );
    }
}
