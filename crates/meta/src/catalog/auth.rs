//! Users and privileges (StarRocks 2.x's model, without roles).
//!
//! A user is a name plus a host pattern (`'u'@'%'`, `'u'@'10.0.0.%'`, `'u'@'10.0.0.7'`). Its
//! password is kept only as MySQL's `authentication_string`: `*` followed by the 40 upper-case
//! hex digits of `SHA1(SHA1(password))`, or empty for no password; the plain text never enters
//! the journal or an image (the FE hashes it before proposing the op).
//!
//! Privileges are granted on `*.*` (global), `db.*` or `db.tbl`: SELECT, INSERT (also loads),
//! ALTER, CREATE, DROP anywhere; NODE (ALTER SYSTEM), OPERATOR (ADMIN statements) and GRANT
//! (user management) only on `*.*`. A privilege held at a level covers everything below it.
//!
//! `root` always exists (`'root'@'%'`) and always holds every privilege; only its password can
//! change, and it cannot be dropped.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use common::Error;
use common::StatusCode;
use serde::Deserialize;
use serde::Serialize;

/// The built-in superuser.
pub const ROOT: &str = "root";

/// One privilege.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Priv {
    /// Read a table.
    Select,
    /// Write to a table (INSERT, Stream Load).
    Insert,
    /// ALTER TABLE.
    Alter,
    /// CREATE DATABASE / TABLE.
    Create,
    /// DROP DATABASE / TABLE.
    Drop,
    /// ALTER SYSTEM (frontends and backends).
    Node,
    /// ADMIN statements.
    Operator,
    /// CREATE/DROP/ALTER USER, GRANT, REVOKE, SET PASSWORD FOR another user.
    Grant,
}

impl Priv {
    /// Every privilege, in display order.
    pub const ALL: [Priv; 8] = [
        Priv::Select,
        Priv::Insert,
        Priv::Alter,
        Priv::Create,
        Priv::Drop,
        Priv::Node,
        Priv::Operator,
        Priv::Grant,
    ];

    /// The privileges that may be granted on a database or a table.
    pub const OBJECT: [Priv; 5] = [
        Priv::Select,
        Priv::Insert,
        Priv::Alter,
        Priv::Create,
        Priv::Drop,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Priv::Select => "SELECT",
            Priv::Insert => "INSERT",
            Priv::Alter => "ALTER",
            Priv::Create => "CREATE",
            Priv::Drop => "DROP",
            Priv::Node => "NODE",
            Priv::Operator => "OPERATOR",
            Priv::Grant => "GRANT",
        }
    }

    /// Whether it can only be granted on `*.*`.
    pub fn is_global_only(self) -> bool {
        matches!(self, Priv::Node | Priv::Operator | Priv::Grant)
    }
}

impl fmt::Display for Priv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of privileges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrivSet(u16);

impl PrivSet {
    /// The empty set.
    pub const EMPTY: PrivSet = PrivSet(0);

    /// A set of the given privileges.
    pub fn of(privs: &[Priv]) -> PrivSet {
        PrivSet(privs.iter().fold(0, |acc, p| acc | p.bit()))
    }

    /// Every privilege.
    pub fn all() -> PrivSet {
        PrivSet::of(&Priv::ALL)
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: Priv) -> bool {
        self.0 & p.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union.
    pub fn union(self, other: PrivSet) -> PrivSet {
        PrivSet(self.0 | other.0)
    }

    /// `self` without `other`.
    pub fn minus(self, other: PrivSet) -> PrivSet {
        PrivSet(self.0 & !other.0)
    }

    /// The privileges, in display order.
    pub fn iter(self) -> impl Iterator<Item = Priv> {
        Priv::ALL.into_iter().filter(move |p| self.contains(*p))
    }
}

impl fmt::Display for PrivSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Priv::name).collect();
        f.write_str(&names.join(", "))
    }
}

/// What a privilege is granted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrivObject {
    /// `*.*`
    Global,
    /// `db.*`
    Database(String),
    /// `db.tbl`
    Table(String, String),
}

impl fmt::Display for PrivObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivObject::Global => f.write_str("*.*"),
            PrivObject::Database(db) => write!(f, "{db}.*"),
            PrivObject::Table(db, t) => write!(f, "{db}.{t}"),
        }
    }
}

/// One account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User name.
    pub name: String,
    /// Host pattern (`%`, `_` wildcards).
    pub host: String,
    /// `*` + 40 upper-case hex digits of SHA1(SHA1(password)), or empty for no password.
    pub password: String,
    /// Privileges on `*.*`.
    #[serde(default)]
    pub global: PrivSet,
    /// Privileges per database.
    #[serde(default)]
    pub databases: BTreeMap<String, PrivSet>,
    /// Privileges per table: database → table → privileges.
    #[serde(default)]
    pub tables: BTreeMap<String, BTreeMap<String, PrivSet>>,
}

impl User {
    /// `'name'@'host'`.
    pub fn identity(&self) -> String {
        identity(&self.name, &self.host)
    }

    /// Whether this is the built-in superuser.
    pub fn is_root(&self) -> bool {
        self.name == ROOT
    }

    /// Whether the user holds `p` on `db.table` (`table` = `None`: on the database itself).
    pub fn has(&self, p: Priv, db: Option<&str>, table: Option<&str>) -> bool {
        if self.is_root() || self.global.contains(p) {
            return true;
        }
        let Some(db) = db else {
            return false;
        };
        if self.databases.get(db).is_some_and(|s| s.contains(p)) {
            return true;
        }
        match table {
            Some(t) => self
                .tables
                .get(db)
                .and_then(|m| m.get(t))
                .is_some_and(|s| s.contains(p)),
            None => false,
        }
    }

    /// Whether the user holds any privilege on `db` or on one of its tables (what makes the
    /// database visible in SHOW DATABASES).
    pub fn can_see_db(&self, db: &str) -> bool {
        self.is_root()
            || !self.global.is_empty()
            || self.databases.get(db).is_some_and(|s| !s.is_empty())
            || self
                .tables
                .get(db)
                .is_some_and(|m| m.values().any(|s| !s.is_empty()))
    }

    /// Whether the user holds any privilege on `db.table`.
    pub fn can_see_table(&self, db: &str, table: &str) -> bool {
        self.is_root()
            || !self.global.is_empty()
            || self.databases.get(db).is_some_and(|s| !s.is_empty())
            || self
                .tables
                .get(db)
                .and_then(|m| m.get(table))
                .is_some_and(|s| !s.is_empty())
    }

    /// The user's grants as `(object, privileges)`, global first.
    pub fn grants(&self) -> Vec<(PrivObject, PrivSet)> {
        if self.is_root() {
            return vec![(PrivObject::Global, PrivSet::all())];
        }
        let mut out = Vec::new();
        if !self.global.is_empty() {
            out.push((PrivObject::Global, self.global));
        }
        for (db, s) in &self.databases {
            out.push((PrivObject::Database(db.clone()), *s));
        }
        for (db, m) in &self.tables {
            for (t, s) in m {
                out.push((PrivObject::Table(db.clone(), t.clone()), *s));
            }
        }
        out
    }
}

/// StarRocks's default `max_user_connections`.
pub const DEFAULT_MAX_USER_CONNECTIONS: i64 = 1024;

/// The properties of a user name (`SET PROPERTY`), StarRocks's `UserProperty`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProperty {
    /// Most connections the user may hold open on one frontend at a time.
    #[serde(default = "default_max_user_connections")]
    pub max_user_connections: i64,
}

fn default_max_user_connections() -> i64 {
    DEFAULT_MAX_USER_CONNECTIONS
}

impl Default for UserProperty {
    fn default() -> Self {
        UserProperty {
            max_user_connections: DEFAULT_MAX_USER_CONNECTIONS,
        }
    }
}

impl UserProperty {
    /// The property keys `SET PROPERTY` accepts.
    pub const KEYS: &'static [&'static str] = &["max_user_connections"];

    /// Sets one property; an empty value restores its default.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        match key.to_ascii_lowercase().as_str() {
            "max_user_connections" => {
                if value.is_empty() {
                    self.max_user_connections = DEFAULT_MAX_USER_CONNECTIONS;
                    return Ok(());
                }
                match value.trim().parse::<i64>() {
                    Ok(n) if (1..=i64::from(i32::MAX)).contains(&n) => {
                        self.max_user_connections = n;
                        Ok(())
                    }
                    _ => Err(Error::invalid(format!(
                        "{value} is not valid for max_user_connections: a number of connections \
                         from 1 to {}",
                        i32::MAX
                    ))),
                }
            }
            _ => Err(Error::invalid(format!(
                "Unknown user property '{key}' (known: {})",
                Self::KEYS.join(", ")
            ))),
        }
    }

    /// `(key, value)` rows, as `SHOW PROPERTY` lists them.
    pub fn rows(&self) -> Vec<(String, String)> {
        vec![(
            "max_user_connections".to_string(),
            self.max_user_connections.to_string(),
        )]
    }
}

/// `'name'@'host'`, as MySQL prints an account.
pub fn identity(name: &str, host: &str) -> String {
    format!("'{name}'@'{host}'")
}

/// The built-in root account (with no password) when the catalog has no entry for it.
pub fn default_root() -> User {
    User {
        name: ROOT.to_string(),
        host: "%".to_string(),
        password: String::new(),
        global: PrivSet::all(),
        ..Default::default()
    }
}

/// Checks a stored password hash: empty, or `*` + 40 hex digits (stored upper-case).
pub fn normalize_password_hash(hash: &str) -> Result<String, Error> {
    if hash.is_empty() {
        return Ok(String::new());
    }
    let ok = hash.len() == 41
        && hash.starts_with('*')
        && hash[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(Error::invalid(
            "Password hash should be a 41-digit hexadecimal number starting with '*' \
             (MySQL's mysql_native_password authentication_string)",
        ));
    }
    Ok(hash.to_ascii_uppercase())
}

/// Whether a host pattern matches a client address. `%` matches any run of characters and
/// `_` one character (MySQL's LIKE); `localhost` matches the loopback addresses. An unknown
/// address (`None`) only matches `%`.
pub fn host_matches(pattern: &str, ip: Option<IpAddr>) -> bool {
    if pattern == "%" || pattern.is_empty() {
        return true;
    }
    let Some(ip) = ip else {
        return false;
    };
    if pattern.eq_ignore_ascii_case("localhost") {
        return ip.is_loopback();
    }
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    like(pattern.as_bytes(), ip.to_string().as_bytes())
}

fn like(p: &[u8], s: &[u8]) -> bool {
    // Iterative wildcard match with backtracking on the last `%`.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'_' || p[pi].eq_ignore_ascii_case(&s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'%' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'%')
}

/// How specific a host pattern is: exact hosts before patterns before `%` (MySQL sorts
/// accounts the same way to pick the one a login uses).
fn specificity(host: &str) -> u8 {
    if host == "%" || host.is_empty() {
        0
    } else if host.contains('%') || host.contains('_') {
        1
    } else {
        2
    }
}

/// The users, keyed by name then host pattern.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Users(pub BTreeMap<String, BTreeMap<String, User>>);

impl Users {
    /// The account with exactly this name and host (root is always there).
    pub fn get(&self, name: &str, host: &str) -> Option<User> {
        if let Some(u) = self.0.get(name).and_then(|m| m.get(host)) {
            return Some(u.clone());
        }
        (name == ROOT && host == "%").then(default_root)
    }

    /// The account a login by `name` from `ip` uses: the most specific matching host.
    pub fn lookup(&self, name: &str, ip: Option<IpAddr>) -> Option<User> {
        let found = self.0.get(name).and_then(|m| {
            m.values()
                .filter(|u| host_matches(&u.host, ip))
                .max_by_key(|u| specificity(&u.host))
                .cloned()
        });
        match found {
            Some(u) => Some(u),
            None if name == ROOT => Some(default_root()),
            None => None,
        }
    }

    /// Every account, root included.
    pub fn all(&self) -> Vec<User> {
        let mut out: Vec<User> = self.0.values().flat_map(|m| m.values().cloned()).collect();
        if !out.iter().any(|u| u.is_root() && u.host == "%") {
            out.insert(0, default_root());
        }
        out
    }

    fn not_found(name: &str, host: &str, op: &str) -> Error {
        Error::new(
            StatusCode::UserOperationFailed,
            format!(
                "Operation {op} failed for {}: the user does not exist",
                identity(name, host)
            ),
        )
    }

    /// CREATE USER. Answers 1 if created, 0 if it existed and `if_not_exists`.
    pub fn create(
        &mut self,
        name: &str,
        host: &str,
        password: &str,
        if_not_exists: bool,
    ) -> Result<u64, Error> {
        let password = normalize_password_hash(password)?;
        if name.is_empty() {
            return Err(Error::invalid("the user name must not be empty"));
        }
        if self.get(name, host).is_some() || name == ROOT {
            if if_not_exists && name != ROOT {
                return Ok(0);
            }
            return Err(Error::new(
                StatusCode::UserOperationFailed,
                format!(
                    "Operation CREATE USER failed for {}: the user already exists",
                    identity(name, host)
                ),
            ));
        }
        self.0.entry(name.to_string()).or_default().insert(
            host.to_string(),
            User {
                name: name.to_string(),
                host: host.to_string(),
                password,
                ..Default::default()
            },
        );
        Ok(1)
    }

    /// DROP USER.
    pub fn drop_user(&mut self, name: &str, host: &str, if_exists: bool) -> Result<u64, Error> {
        if name == ROOT {
            return Err(Error::new(
                StatusCode::PermissionDenied,
                "Access denied; DROP USER failed for 'root': root cannot be dropped",
            ));
        }
        let removed = self.0.get_mut(name).and_then(|m| m.remove(host)).is_some();
        if self.0.get(name).is_some_and(|m| m.is_empty()) {
            self.0.remove(name);
        }
        match (removed, if_exists) {
            (true, _) => Ok(1),
            (false, true) => Ok(0),
            (false, false) => Err(Self::not_found(name, host, "DROP USER")),
        }
    }

    fn entry(&mut self, name: &str, host: &str, op: &str) -> Result<&mut User, Error> {
        if name == ROOT && host == "%" {
            return Ok(self
                .0
                .entry(ROOT.to_string())
                .or_default()
                .entry("%".to_string())
                .or_insert_with(default_root));
        }
        self.0
            .get_mut(name)
            .and_then(|m| m.get_mut(host))
            .ok_or_else(|| Self::not_found(name, host, op))
    }

    /// SET PASSWORD / ALTER USER.
    pub fn set_password(&mut self, name: &str, host: &str, password: &str) -> Result<u64, Error> {
        let password = normalize_password_hash(password)?;
        self.entry(name, host, "SET PASSWORD")?.password = password;
        Ok(1)
    }

    /// GRANT (`revoke` = false) or REVOKE.
    pub fn change_privileges(
        &mut self,
        name: &str,
        host: &str,
        object: &PrivObject,
        privs: PrivSet,
        revoke: bool,
    ) -> Result<u64, Error> {
        let op = if revoke { "REVOKE" } else { "GRANT" };
        if name == ROOT {
            return Err(Error::new(
                StatusCode::PermissionDenied,
                format!("Access denied; {op} failed for 'root': root always holds every privilege"),
            ));
        }
        if let Some(p) = privs.iter().find(|p| p.is_global_only())
            && *object != PrivObject::Global
        {
            return Err(Error::invalid(format!(
                "{p} can only be granted on *.* (global privilege)"
            )));
        }
        let user = self.entry(name, host, op)?;
        let apply = |s: &mut PrivSet| {
            *s = if revoke {
                s.minus(privs)
            } else {
                s.union(privs)
            }
        };
        match object {
            PrivObject::Global => apply(&mut user.global),
            PrivObject::Database(db) => {
                let s = user.databases.entry(db.clone()).or_default();
                apply(s);
                if s.is_empty() {
                    user.databases.remove(db);
                }
            }
            PrivObject::Table(db, t) => {
                let m = user.tables.entry(db.clone()).or_default();
                let s = m.entry(t.clone()).or_default();
                apply(s);
                if s.is_empty() {
                    m.remove(t);
                }
                if m.is_empty() {
                    user.tables.remove(db);
                }
            }
        }
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "*81F5E21E35407D884A6CD4A731AEBFB6AF209E1B";

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn host_patterns() {
        assert!(host_matches("%", None));
        assert!(host_matches("%", ip("10.1.2.3")));
        assert!(host_matches("10.1.2.3", ip("10.1.2.3")));
        assert!(!host_matches("10.1.2.3", ip("10.1.2.4")));
        assert!(!host_matches("10.1.2.3", None));
        assert!(host_matches("10.1.%", ip("10.1.2.3")));
        assert!(!host_matches("10.1.%", ip("10.2.2.3")));
        assert!(host_matches("10.1.2._", ip("10.1.2.3")));
        assert!(!host_matches("10.1.2._", ip("10.1.2.33")));
        assert!(host_matches("localhost", ip("127.0.0.1")));
        assert!(!host_matches("localhost", ip("10.0.0.1")));
        assert!(host_matches("127.0.0.1", ip("::ffff:127.0.0.1")));
        assert!(host_matches("%.%.%.1", ip("10.0.0.1")));
    }

    #[test]
    fn lookup_prefers_the_most_specific_host() {
        let mut u = Users::default();
        u.create("a", "%", "", false).expect("create");
        u.create("a", "10.0.0.%", HASH, false).expect("create");
        u.create("a", "10.0.0.7", "", false).expect("create");
        assert_eq!(
            u.lookup("a", ip("10.0.0.7")).map(|x| x.host),
            Some("10.0.0.7".into())
        );
        assert_eq!(
            u.lookup("a", ip("10.0.0.8")).map(|x| x.host),
            Some("10.0.0.%".into())
        );
        assert_eq!(
            u.lookup("a", ip("1.2.3.4")).map(|x| x.host),
            Some("%".into())
        );
        assert!(u.lookup("b", ip("1.2.3.4")).is_none());
        // root exists with no entry at all.
        let root = u.lookup("root", ip("1.2.3.4")).expect("root");
        assert!(root.password.is_empty() && root.has(Priv::Node, None, None));
    }

    #[test]
    fn create_drop_and_errors() {
        let mut u = Users::default();
        assert_eq!(u.create("a", "%", HASH, false).ok(), Some(1));
        let e = u.create("a", "%", "", false).expect_err("exists");
        assert_eq!(e.code, StatusCode::UserOperationFailed);
        assert_eq!(u.create("a", "%", "", true).ok(), Some(0));
        let e = u.create("root", "%", "", false).expect_err("root exists");
        assert_eq!(e.code, StatusCode::UserOperationFailed);
        // No second root account with another host (and a password of someone's choosing).
        let e = u
            .create("root", "10.0.0.1", "", true)
            .expect_err("root exists");
        assert_eq!(e.code, StatusCode::UserOperationFailed);
        let e = u.create("b", "%", "plain", false).expect_err("plain text");
        assert_eq!(e.code, StatusCode::InvalidArgument);
        let e = u.drop_user("root", "%", true).expect_err("root");
        assert_eq!(e.code, StatusCode::PermissionDenied);
        assert_eq!(u.drop_user("a", "%", false).ok(), Some(1));
        assert_eq!(u.drop_user("a", "%", true).ok(), Some(0));
        assert!(u.drop_user("a", "%", false).is_err());
        assert!(u.0.is_empty());
    }

    #[test]
    fn grants_cover_lower_levels() {
        let mut u = Users::default();
        u.create("a", "%", "", false).expect("create");
        let sel = PrivSet::of(&[Priv::Select]);
        u.change_privileges("a", "%", &PrivObject::Database("d".into()), sel, false)
            .expect("grant");
        u.change_privileges(
            "a",
            "%",
            &PrivObject::Table("e".into(), "t".into()),
            PrivSet::of(&[Priv::Insert]),
            false,
        )
        .expect("grant");
        let a = u.get("a", "%").expect("a");
        assert!(a.has(Priv::Select, Some("d"), Some("x")));
        assert!(a.has(Priv::Select, Some("d"), None));
        assert!(!a.has(Priv::Select, Some("e"), Some("t")));
        assert!(a.has(Priv::Insert, Some("e"), Some("t")));
        assert!(!a.has(Priv::Insert, Some("e"), Some("u")));
        assert!(!a.has(Priv::Insert, Some("e"), None));
        assert!(a.can_see_db("e") && !a.can_see_db("f"));
        assert!(a.can_see_table("e", "t") && !a.can_see_table("e", "u"));
        let e = u
            .change_privileges(
                "a",
                "%",
                &PrivObject::Database("d".into()),
                PrivSet::of(&[Priv::Node]),
                false,
            )
            .expect_err("node on db");
        assert_eq!(e.code, StatusCode::InvalidArgument);
        u.change_privileges("a", "%", &PrivObject::Database("d".into()), sel, true)
            .expect("revoke");
        u.change_privileges(
            "a",
            "%",
            &PrivObject::Table("e".into(), "t".into()),
            PrivSet::of(&[Priv::Insert]),
            true,
        )
        .expect("revoke");
        let a = u.get("a", "%").expect("a");
        assert!(a.grants().is_empty(), "{:?}", a.grants());
        assert!(
            u.change_privileges("root", "%", &PrivObject::Global, sel, true)
                .is_err()
        );
        assert!(
            u.change_privileges("zz", "%", &PrivObject::Global, sel, false)
                .is_err()
        );
    }

    #[test]
    fn root_password_can_change() {
        let mut u = Users::default();
        u.set_password("root", "%", &HASH.to_lowercase())
            .expect("set");
        let root = u.lookup("root", None).expect("root");
        assert_eq!(root.password, HASH);
        assert!(root.has(Priv::Grant, None, None));
        assert!(u.set_password("nobody", "%", "").is_err());
    }
}
