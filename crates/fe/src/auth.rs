//! Authentication and privilege checks (see docs/security.md).
//!
//! Logins are checked against the replicated users (`meta::catalog::auth`): the MySQL port
//! verifies the `mysql_native_password` scramble against the stored `SHA1(SHA1(password))`;
//! HTTP Basic (Stream Load, `get_load_state`, the console, `/metrics`) hashes the plain
//! password the same way and compares. Every statement is checked against the session user's
//! privileges as the catalog holds them *now*, so a REVOKE applies to open sessions at once;
//! a forwarded statement is checked again on the leader.

use std::net::IpAddr;
use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use meta::catalog::auth::Priv;
use meta::catalog::auth::User;
use sql::Statement;
use sql::sqlparser::ast::ObjectName;
use sql::statements::set::SetItem;

use crate::frontend::Frontend;
use crate::session::Session;

/// The prefix of the password an FE presents (through a backend) when it coordinates an
/// `INSERT` for a session it already authorized; the rest is the catalog's internal secret.
pub const INTERNAL_PREFIX: &str = "tessera-internal:";

/// `*` + upper-case hex of SHA1(SHA1(password)); empty for an empty password.
pub fn hash_password(plain: &str) -> String {
    match mysql::native_password_hash(plain) {
        Some(h) => {
            let hex: String = h.iter().map(|b| format!("{b:02X}")).collect();
            format!("*{hex}")
        }
        None => String::new(),
    }
}

/// The 20 bytes of a stored `*HEX` hash (`None` for no password or a malformed one).
fn stored_bytes(hash: &str) -> Option<[u8; 20]> {
    let hex = hash.strip_prefix('*')?;
    if hex.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn denied(user: &str, ip: Option<IpAddr>, with_password: bool) -> Error {
    let host = ip.map(|i| i.to_string()).unwrap_or_else(|| "%".into());
    Error::new(
        StatusCode::AccessDenied,
        format!(
            "Access denied for user '{user}'@'{host}' (using password: {})",
            if with_password { "YES" } else { "NO" }
        ),
    )
}

/// Checks a `mysql_native_password` login; answers the account it matched.
pub fn authenticate_native(
    fe: &Frontend,
    user: &str,
    ip: Option<IpAddr>,
    scramble: &[u8; 20],
    response: &[u8],
) -> Result<User> {
    let account = fe.journal.state.read(|s| s.catalog.users.lookup(user, ip));
    let ok = account.as_ref().is_some_and(|a| {
        let stored = stored_bytes(&a.password);
        if !a.password.is_empty() && stored.is_none() {
            return false;
        }
        mysql::verify_native_password(scramble, response, stored.as_ref())
    });
    match account {
        Some(a) if ok => Ok(a),
        _ => Err(denied(user, ip, !response.is_empty())),
    }
}

/// Checks a plain-text login (HTTP Basic); answers the account it matched.
pub fn authenticate_plain(
    fe: &Frontend,
    user: &str,
    password: &str,
    ip: Option<IpAddr>,
) -> Result<User> {
    let account = fe.journal.state.read(|s| s.catalog.users.lookup(user, ip));
    match account {
        Some(a) if constant_time_eq(&a.password, &hash_password(password)) => Ok(a),
        _ => Err(denied(user, ip, !password.is_empty())),
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether `password` is this cluster's internal FE credential.
pub fn is_internal(fe: &Frontend, password: &str) -> bool {
    let Some(rest) = password.strip_prefix(INTERNAL_PREFIX) else {
        return false;
    };
    let secret = fe.journal.state.read(|s| s.catalog.internal_secret.clone());
    !secret.is_empty() && constant_time_eq(rest, &secret)
}

/// The session's account as the catalog holds it now (`None` once dropped).
pub fn session_user(fe: &Frontend, session: &Session) -> Option<User> {
    fe.journal
        .state
        .read(|s| s.catalog.users.get(&session.user, &session.host))
}

fn ident(session: &Session) -> String {
    meta::catalog::auth::identity(&session.user, &session.host)
}

/// ERROR 1227: a global privilege is missing.
pub fn need_global(session: &Session, privs: &[Priv]) -> Error {
    let names: Vec<&str> = privs.iter().map(|p| p.name()).collect();
    let _ = session;
    Error::new(
        StatusCode::PermissionDenied,
        format!(
            "Access denied; you need (at least one of) the {} privilege(s) for this operation",
            names.join("/")
        ),
    )
}

/// ERROR 1142: a table privilege is missing.
pub fn table_denied(session: &Session, p: Priv, db: &str, table: &str) -> Error {
    Error::new(
        StatusCode::TableAccessDenied,
        format!(
            "{p} command denied to user {} for table '{db}.{table}'",
            ident(session)
        ),
    )
}

/// ERROR 1044: a database privilege is missing.
pub fn db_denied(session: &Session, db: &str) -> Error {
    Error::new(
        StatusCode::DatabaseAccessDenied,
        format!(
            "Access denied for user {} to database '{db}'",
            ident(session)
        ),
    )
}

fn is_system_db(db: &str) -> bool {
    db.eq_ignore_ascii_case(crate::query::info_schema::INFORMATION_SCHEMA)
}

/// What a statement needs, decided without the catalog's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing.
    Nothing,
    /// At least one of these global privileges.
    Global(Vec<Priv>),
    /// The privilege on `db.table` (table `None`: on the database).
    On(Priv, String, Option<String>),
    /// Any privilege on the database (it is visible).
    SeeDb(String),
    /// Any privilege on the table (it is visible).
    SeeTable(String, String),
    /// All of these.
    All(Vec<Need>),
}

/// The relations a query reads, as (db, table); unqualified ones use `default_db`.
fn relations(
    node: &impl sql::sqlparser::ast::Visit,
    default_db: Option<&str>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let _ = sql::sqlparser::ast::visit_relations(node, |name: &ObjectName| {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
            .collect();
        let pair = match parts.as_slice() {
            [t] => default_db.map(|d| (d.to_string(), t.clone())),
            [.., d, t] => Some((d.clone(), t.clone())),
            [] => None,
        };
        if let Some(p) = pair {
            out.push(p);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    out
}

fn table_of(session: &Session, name: &sql::TableName) -> Option<(String, String)> {
    let db = name.database.clone().or_else(|| session.database.clone())?;
    Some((db, name.table.clone()))
}

fn on(session: &Session, p: Priv, name: &sql::TableName) -> Need {
    match table_of(session, name) {
        Some((db, t)) => Need::On(p, db, Some(t)),
        // No database: the statement fails with "No database selected" when it runs.
        None => Need::Nothing,
    }
}

fn see_table(session: &Session, name: &sql::TableName) -> Need {
    match table_of(session, name) {
        Some((db, t)) => Need::SeeTable(db, t),
        None => Need::Nothing,
    }
}

fn see_db(session: &Session, db: Option<&str>) -> Need {
    match db.map(str::to_string).or_else(|| session.database.clone()) {
        Some(db) => Need::SeeDb(db),
        None => Need::Nothing,
    }
}

fn select_on(rels: Vec<(String, String)>) -> Need {
    Need::All(
        rels.into_iter()
            .map(|(d, t)| Need::On(Priv::Select, d, Some(t)))
            .collect(),
    )
}

/// What `stmt` needs from the session's user.
pub fn need_of(session: &Session, stmt: &Statement) -> Need {
    use Priv::*;
    let own = |u: &sql::UserIdentity| u.user == session.user && u.host == session.host;
    match stmt {
        Statement::Query(q) => select_on(relations(q.as_ref(), session.database.as_deref())),
        Statement::Explain { statement, .. } => need_of(session, statement),
        Statement::Insert(i) => {
            let mut needs = Vec::new();
            if let Some(ins) = i.insert() {
                if let sql::sqlparser::ast::TableObject::TableName(name) = &ins.table {
                    let parts: Vec<String> = name
                        .0
                        .iter()
                        .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
                        .collect();
                    let pair = match parts.as_slice() {
                        [t] => session.database.clone().map(|d| (d, t.clone())),
                        [.., d, t] => Some((d.clone(), t.clone())),
                        [] => None,
                    };
                    if let Some((d, t)) = pair {
                        needs.push(Need::On(Insert, d, Some(t)));
                    }
                }
                if let Some(src) = &ins.source {
                    needs.push(select_on(relations(
                        src.as_ref(),
                        session.database.as_deref(),
                    )));
                }
            }
            Need::All(needs)
        }
        Statement::CreateDatabase { name, .. } => Need::On(Create, name.clone(), None),
        Statement::DropDatabase { name, .. } => Need::On(Drop, name.clone(), None),
        Statement::ShowCreateDatabase { name } => Need::SeeDb(name.clone()),
        Statement::AlterSystem(_) => Need::Global(vec![Node]),
        Statement::ShowFrontends | Statement::ShowBackends | Statement::ShowProc { .. } => {
            Need::Global(vec![Node, Operator])
        }
        Statement::AdminSetFrontendConfig { .. }
        | Statement::AdminShowFrontendConfig { .. }
        | Statement::AdminShowReplicaStatus { .. }
        | Statement::AdminShowReplicaDistribution { .. }
        | Statement::AdminRepairTable { .. }
        | Statement::AdminCancelRepairTable { .. }
        | Statement::AdminSetReplicaStatus { .. }
        | Statement::ShowTablet(_) => Need::Global(vec![Operator]),
        Statement::Set(items) => {
            let mut needs = Vec::new();
            for it in items {
                match it {
                    SetItem::Password { user: Some(u), .. } if !own(u) => {
                        needs.push(Need::Global(vec![Grant]))
                    }
                    SetItem::Variable {
                        scope: sql::statements::set::VarScope::Global,
                        ..
                    } => needs.push(Need::Global(vec![Operator])),
                    _ => {}
                }
            }
            Need::All(needs)
        }
        Statement::CreateTable(c) => on(session, Create, &c.name),
        Statement::DropTable { name, .. } => on(session, Drop, name),
        Statement::AlterTable { name, .. } => on(session, Alter, name),
        Statement::ShowCreateTable { name } | Statement::Describe { name, .. } => {
            see_table(session, name)
        }
        Statement::ShowColumns {
            table, database, ..
        } => {
            let mut t = table.clone();
            if t.database.is_none() {
                t.database = database.clone();
            }
            see_table(session, &t)
        }
        Statement::ShowTables { database, .. } => see_db(session, database.as_deref()),
        Statement::ShowTransaction { database, .. } | Statement::ShowLoad { database, .. } => {
            see_db(session, database.as_deref())
        }
        // Even for oneself: a connection limit a user could raise would limit nothing.
        Statement::CreateUser { .. }
        | Statement::SetProperty { .. }
        | Statement::DropUser { .. }
        | Statement::Grant { .. }
        | Statement::Revoke { .. } => Need::Global(vec![Grant]),
        Statement::AlterUser { user, .. } if !own(user) => Need::Global(vec![Grant]),
        Statement::ShowGrants { all: true, .. } => Need::Global(vec![Grant]),
        Statement::ShowGrants { user: Some(u), .. } if !own(u) => Need::Global(vec![Grant]),
        _ => Need::Nothing,
    }
}

/// Checks `need` for `user` (`None`: the account was dropped, so nothing is allowed but
/// statements that need nothing).
pub fn check_need(
    fe: &Frontend,
    session: &Session,
    user: Option<&User>,
    need: &Need,
) -> Result<()> {
    match need {
        Need::Nothing => Ok(()),
        Need::All(v) => v.iter().try_for_each(|n| check_need(fe, session, user, n)),
        Need::Global(privs) => {
            if user.is_some_and(|u| privs.iter().any(|p| u.has(*p, None, None))) {
                Ok(())
            } else {
                Err(need_global(session, privs))
            }
        }
        Need::On(p, db, table) => {
            if is_system_db(db) {
                return Ok(());
            }
            if let Some(t) = table {
                // A name that is not a table (a CTE, a view of information_schema, a missing
                // table) is not checked here: the query fails or reads no table.
                let exists = fe.journal.state.read(|s| {
                    s.catalog
                        .databases
                        .get(db)
                        .is_some_and(|d| d.tables.contains_key(t))
                });
                if !exists && *p == Priv::Select {
                    return Ok(());
                }
            }
            if user.is_some_and(|u| u.has(*p, Some(db), table.as_deref())) {
                return Ok(());
            }
            Err(match table {
                Some(t) => table_denied(session, *p, db, t),
                None => db_denied(session, db),
            })
        }
        Need::SeeDb(db) => {
            if is_system_db(db) || user.is_some_and(|u| u.can_see_db(db)) {
                Ok(())
            } else {
                Err(db_denied(session, db))
            }
        }
        Need::SeeTable(db, t) => {
            if is_system_db(db) || user.is_some_and(|u| u.can_see_table(db, t)) {
                Ok(())
            } else {
                Err(table_denied(session, Priv::Select, db, t))
            }
        }
    }
}

/// Checks that the session may run `stmt`.
pub fn check_statement(fe: &Arc<Frontend>, session: &Session, stmt: &Statement) -> Result<()> {
    let need = need_of(session, stmt);
    if need == Need::Nothing {
        return Ok(());
    }
    let user = session_user(fe, session);
    check_need(fe, session, user.as_ref(), &need)
}

#[cfg(test)]
mod tests {
    use meta::catalog::auth::PrivObject;
    use meta::catalog::auth::PrivSet;
    use meta::catalog::auth::Users;

    use super::*;

    fn session(user: &str, db: Option<&str>) -> Session {
        let mut s = Session::new(1, user, None);
        s.database = db.map(str::to_string);
        s
    }

    fn need(s: &Session, sql: &str) -> Need {
        let stmt = sql::parse_statement(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        need_of(s, &stmt)
    }

    fn on(p: Priv, db: &str, t: Option<&str>) -> Need {
        Need::On(p, db.into(), t.map(str::to_string))
    }

    #[test]
    fn what_each_statement_family_needs() {
        use Priv::*;
        let s = session("u", Some("d"));
        let cases: Vec<(&str, Need)> = vec![
            ("SELECT 1", Need::All(vec![])),
            (
                "SELECT * FROM t JOIN e.u ON t.k = u.k",
                Need::All(vec![on(Select, "d", Some("t")), on(Select, "e", Some("u"))]),
            ),
            (
                "SELECT * FROM d.t WHERE k IN (SELECT k FROM x.y)",
                Need::All(vec![on(Select, "d", Some("t")), on(Select, "x", Some("y"))]),
            ),
            (
                "INSERT INTO t VALUES (1)",
                Need::All(vec![on(Insert, "d", Some("t")), Need::All(vec![])]),
            ),
            (
                "INSERT INTO e.t SELECT * FROM s",
                Need::All(vec![
                    on(Insert, "e", Some("t")),
                    Need::All(vec![on(Select, "d", Some("s"))]),
                ]),
            ),
            ("CREATE DATABASE n", on(Create, "n", None)),
            ("DROP DATABASE n", on(Drop, "n", None)),
            (
                "CREATE TABLE t2 (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1",
                on(Create, "d", Some("t2")),
            ),
            ("DROP TABLE e.t", on(Drop, "e", Some("t"))),
            (
                "ALTER TABLE t SET (\"write_quorum\" = \"ALL\")",
                on(Alter, "d", Some("t")),
            ),
            (
                "ALTER SYSTEM ADD BACKEND \"h:9050\"",
                Need::Global(vec![Node]),
            ),
            (
                "ADMIN SET FRONTEND CONFIG (\"a\" = \"b\")",
                Need::Global(vec![Operator]),
            ),
            ("SHOW FRONTENDS", Need::Global(vec![Node, Operator])),
            ("CREATE USER 'x'@'%'", Need::Global(vec![Grant])),
            ("DROP USER 'x'", Need::Global(vec![Grant])),
            ("GRANT SELECT ON *.* TO 'x'", Need::Global(vec![Grant])),
            ("REVOKE SELECT ON *.* FROM 'x'", Need::Global(vec![Grant])),
            (
                "ALTER USER 'x' IDENTIFIED BY 'p'",
                Need::Global(vec![Grant]),
            ),
            ("ALTER USER 'u'@'%' IDENTIFIED BY 'p'", Need::Nothing),
            ("SET PASSWORD = PASSWORD('p')", Need::All(vec![])),
            (
                "SET PASSWORD FOR 'x' = PASSWORD('p')",
                Need::All(vec![Need::Global(vec![Grant])]),
            ),
            ("SHOW GRANTS", Need::Nothing),
            ("SHOW GRANTS FOR 'u'@'%'", Need::Nothing),
            ("SHOW GRANTS FOR 'x'@'%'", Need::Global(vec![Grant])),
            ("SHOW TABLES", Need::SeeDb("d".into())),
            ("DESC e.t", Need::SeeTable("e".into(), "t".into())),
            ("SHOW VARIABLES", Need::Nothing),
        ];
        for (sql, want) in cases {
            assert_eq!(need(&s, sql), want, "{sql}");
        }
        // Without a current database an unqualified name needs nothing here: the statement
        // fails with "No database selected".
        let s = session("u", None);
        assert_eq!(need(&s, "DROP TABLE t"), Need::Nothing);
        assert_eq!(need(&s, "SELECT * FROM t"), Need::All(vec![]));
    }

    #[test]
    fn decision_table() {
        use Priv::*;
        let mut users = Users::default();
        users.create("u", "%", "", false).expect("create");
        let grant = |users: &mut Users, o: PrivObject, p: &[Priv]| {
            users
                .change_privileges("u", "%", &o, PrivSet::of(p), false)
                .expect("grant");
        };
        grant(&mut users, PrivObject::Database("d".into()), &[Select]);
        grant(
            &mut users,
            PrivObject::Table("e".into(), "t".into()),
            &[Insert, Alter],
        );
        grant(&mut users, PrivObject::Global, &[Node]);
        let u = users.get("u", "%").expect("u");
        let root = users.get("root", "%").expect("root");
        // (privilege, db, table, allowed for u)
        let table: &[(Priv, &str, Option<&str>, bool)] = &[
            (Select, "d", Some("any"), true),
            (Select, "d", None, true),
            (Select, "e", Some("t"), false),
            (Insert, "d", Some("any"), false),
            (Insert, "e", Some("t"), true),
            (Insert, "e", Some("t2"), false),
            (Alter, "e", Some("t"), true),
            (Create, "e", Some("t"), false),
            (Create, "d", None, false),
            (Drop, "d", Some("x"), false),
        ];
        for (p, db, t, want) in table {
            assert_eq!(u.has(*p, Some(db), *t), *want, "{p} on {db}.{t:?}");
            assert!(root.has(*p, Some(db), *t));
        }
        assert!(u.has(Node, None, None));
        assert!(!u.has(Operator, None, None));
        assert!(!u.has(Grant, None, None));
        assert!(root.has(Grant, None, None));
    }

    #[test]
    fn password_hashes() {
        // The well-known mysql.user entry for the password "root".
        assert_eq!(
            hash_password("root"),
            "*81F5E21E35407D884A6CD4A731AEBFB6AF209E1B"
        );
        assert_eq!(hash_password(""), "");
        let h = hash_password("p");
        assert_eq!(stored_bytes(&h).map(|b| b.len()), Some(20));
        assert_eq!(stored_bytes("*XYZ"), None);
        assert_eq!(stored_bytes(""), None);
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[test]
    fn plain_passwords_are_hashed_before_forwarding() {
        let mut stmt =
            sql::parse_statement("CREATE USER 'x'@'%' IDENTIFIED BY 'secret'").expect("parse");
        crate::exec::accounts::hash_passwords(&mut stmt);
        let text = stmt.to_string();
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains(&hash_password("secret")), "{text}");
        let mut stmt = sql::parse_statement("SET PASSWORD = PASSWORD('secret')").expect("parse");
        crate::exec::accounts::hash_passwords(&mut stmt);
        assert!(!stmt.to_string().contains("secret"));
        let mut stmt =
            sql::parse_statement("ALTER USER 'x' IDENTIFIED BY 'secret'").expect("parse");
        crate::exec::accounts::hash_passwords(&mut stmt);
        assert!(!stmt.to_string().contains("secret"));
    }
}

/// `sql` with the string literal of every password replaced by `'***'`: the one after
/// `IDENTIFIED BY [PASSWORD]` and the one inside `PASSWORD(...)`. For what shows a
/// statement's text to others (`SHOW PROCESSLIST`, logs). Quotes and comments are followed so
/// a password that contains a keyword or a quote is still hidden whole; a statement cut short
/// (no closing quote) hides everything from the literal on.
pub fn redact_passwords(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    // The last two words outside literals, upper-cased, and whether the last token was `(`
    // right after PASSWORD.
    let mut words: [String; 2] = [String::new(), String::new()];
    let mut after_password_paren = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            // The literal's end: the next unescaped quote of the same kind.
            let mut j = i + 1;
            while j < chars.len() {
                if chars[j] == '\\' {
                    j += 2;
                    continue;
                }
                if chars[j] == c {
                    if chars.get(j + 1) == Some(&c) {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            let end = j.min(chars.len());
            let secret = after_password_paren
                || (words[1] == "BY" && words[0] == "IDENTIFIED")
                || (words[1] == "PASSWORD" && words[0] == "BY");
            if secret {
                out.push(c);
                out.push_str("***");
                out.push(c);
            } else {
                out.extend(&chars[i..(end + 1).min(chars.len())]);
            }
            i = end + 1;
            words = [String::new(), String::new()];
            after_password_paren = false;
            continue;
        }
        if c == '-' && chars.get(i + 1) == Some(&'-') || c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            let mut j = i + 2;
            while j + 1 < chars.len() && !(chars[j] == '*' && chars[j + 1] == '/') {
                j += 1;
            }
            let end = (j + 2).min(chars.len());
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect::<String>().to_ascii_uppercase();
            out.extend(&chars[i..j]);
            words = [std::mem::take(&mut words[1]), word];
            after_password_paren = false;
            i = j;
            continue;
        }
        if c == '(' {
            after_password_paren = words[1] == "PASSWORD";
        } else if !c.is_whitespace() {
            after_password_paren = false;
            words = [String::new(), String::new()];
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod redact_tests {
    use super::redact_passwords;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        let cases = [
            (
                "CREATE USER 'u'@'%' IDENTIFIED BY 'secret'",
                "CREATE USER 'u'@'%' IDENTIFIED BY '***'",
            ),
            (
                "create user u identified   by \"p'w\"",
                "create user u identified   by \"***\"",
            ),
            (
                "ALTER USER 'u'@'%' IDENTIFIED BY PASSWORD '*ABCDEF'",
                "ALTER USER 'u'@'%' IDENTIFIED BY PASSWORD '***'",
            ),
            (
                "SET PASSWORD FOR 'u'@'%' = PASSWORD( 'it''s' )",
                "SET PASSWORD FOR 'u'@'%' = PASSWORD( '***' )",
            ),
            (
                "SET PASSWORD = password('a\\'b') -- 'x'",
                "SET PASSWORD = password('***') -- 'x'",
            ),
            (
                "SELECT 'IDENTIFIED BY', 'x' FROM t",
                "SELECT 'IDENTIFIED BY', 'x' FROM t",
            ),
            (
                "CREATE USER u IDENTIFIED BY 'cut short",
                "CREATE USER u IDENTIFIED BY '***'",
            ),
            ("SELECT 1", "SELECT 1"),
            ("SELECT 'é', \"ü\"", "SELECT 'é', \"ü\""),
        ];
        for (input, want) in cases {
            assert_eq!(redact_passwords(input), want, "{input}");
        }
    }
}
