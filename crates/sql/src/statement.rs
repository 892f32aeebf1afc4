//! The [`Statement`] enum: every statement Tessera understands.

use std::fmt;

use sqlparser::ast::{Expr, OrderByExpr, Query, Statement as SqlStatement};

use crate::statements::account::{GrantObject, Grantee, Privilege, UserAuth, UserIdentity};
use crate::statements::admin::ReplicaStatusFilter;
use crate::statements::alter_table::AlterTableOp;
use crate::statements::dml::{ExplainLevel, Insert};
use crate::statements::set::SetItem;
use crate::statements::show::{ShowTablet, write_where_order_limit};
use crate::statements::system::AlterSystemOp;
use crate::statements::table::CreateTable;
use crate::statements::{Comma, Ident, KvList, Limit, PartitionNames, ShowFilter, Str, TableName};

/// One parsed statement. `Display` prints SQL that parses back to an equal value.
///
/// Names (databases, tables, columns, partitions) keep the case they were
/// written in, without backticks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Statement {
    // ----- queries and DML -----
    /// `SELECT` / `WITH` / `VALUES` / `( query )`, including the MySQL-flavoured
    /// `SELECT @@version_comment LIMIT 1`, `SELECT DATABASE()`, ...
    Query(Box<Query>),
    /// `INSERT INTO|OVERWRITE t [PARTITION (...)] [WITH LABEL l] [(cols)] VALUES ...|query`
    Insert(Insert),
    /// `EXPLAIN [LOGICAL|VERBOSE|COSTS|ANALYZE] query|insert` (also `DESC[RIBE] query`).
    /// `statement` is always a [`Statement::Query`] or [`Statement::Insert`].
    Explain {
        /// Detail level.
        level: ExplainLevel,
        /// What to explain.
        statement: Box<Statement>,
    },
    /// A statement sqlparser understands but Tessera does not model
    /// (UPDATE, DELETE, CREATE VIEW, TRUNCATE, ...). The FE decides.
    Other(Box<SqlStatement>),

    // ----- databases -----
    /// `CREATE DATABASE|SCHEMA [IF NOT EXISTS] db [PROPERTIES (...)]`
    CreateDatabase {
        /// Database name.
        name: String,
        /// `IF NOT EXISTS`
        if_not_exists: bool,
        /// `PROPERTIES ("k" = "v", ...)`
        properties: Vec<(String, String)>,
    },
    /// `DROP DATABASE|SCHEMA [IF EXISTS] db [FORCE]`
    DropDatabase {
        /// Database name.
        name: String,
        /// `IF EXISTS`
        if_exists: bool,
        /// `FORCE`
        force: bool,
    },
    /// `SHOW DATABASES|SCHEMAS [LIKE ...|WHERE ...]`
    ShowDatabases {
        /// Filter.
        filter: Option<ShowFilter>,
    },
    /// `SHOW CREATE DATABASE|SCHEMA db`
    ShowCreateDatabase {
        /// Database name.
        name: String,
    },
    /// `USE [catalog.]db`
    Use {
        /// Catalog, if given.
        catalog: Option<String>,
        /// Database.
        database: String,
    },

    // ----- cluster -----
    /// `ALTER SYSTEM ...` and `CANCEL DECOMMISSION BACKEND ...`
    AlterSystem(AlterSystemOp),
    /// `SHOW FRONTENDS`
    ShowFrontends,
    /// `SHOW BACKENDS`
    ShowBackends,
    /// `SHOW PROC '/path'`
    ShowProc {
        /// The proc path as written.
        path: String,
    },
    /// `ADMIN SET FRONTEND CONFIG ("key" = "value", ...)`
    AdminSetFrontendConfig {
        /// Key/value pairs; bare numbers and words arrive as their text.
        items: Vec<(String, String)>,
    },
    /// `ADMIN SHOW FRONTEND CONFIG [LIKE 'pattern']`
    AdminShowFrontendConfig {
        /// Pattern.
        like: Option<String>,
    },

    // ----- session -----
    /// `SET item[, item ...]`
    Set(Vec<SetItem>),
    /// `SHOW [GLOBAL|SESSION] VARIABLES [LIKE ...|WHERE ...]`
    ShowVariables {
        /// `GLOBAL`
        global: bool,
        /// Filter.
        filter: Option<ShowFilter>,
    },
    /// `SHOW [GLOBAL|SESSION] STATUS [LIKE ...|WHERE ...]`
    ShowStatus {
        /// `GLOBAL`
        global: bool,
        /// Filter.
        filter: Option<ShowFilter>,
    },
    /// `SHOW [FULL] PROCESSLIST`
    ShowProcesslist {
        /// `FULL`
        full: bool,
    },
    /// `KILL [CONNECTION|QUERY] id`
    Kill {
        /// `KILL QUERY`: cancel the running statement, keep the connection.
        query_only: bool,
        /// Connection id.
        connection_id: u64,
    },
    /// `SHOW WARNINGS`
    ShowWarnings,
    /// `SHOW ERRORS`
    ShowErrors,
    /// `SHOW CHARSET|CHARACTER SET [LIKE ...|WHERE ...]`
    ShowCharset {
        /// Filter.
        filter: Option<ShowFilter>,
    },
    /// `SHOW COLLATION [LIKE ...|WHERE ...]`
    ShowCollation {
        /// Filter.
        filter: Option<ShowFilter>,
    },
    /// `SHOW [STORAGE] ENGINES`
    ShowEngines,
    /// `BEGIN [WORK]` / `START TRANSACTION`
    Begin,
    /// `COMMIT [WORK]`
    Commit,
    /// `ROLLBACK [WORK]`
    Rollback,

    // ----- tables -----
    /// `CREATE TABLE ...`
    CreateTable(Box<CreateTable>),
    /// `DROP TABLE [IF EXISTS] [db.]t [FORCE]`
    DropTable {
        /// Table.
        name: TableName,
        /// `IF EXISTS`
        if_exists: bool,
        /// `FORCE`
        force: bool,
    },
    /// `SHOW [FULL] TABLES [FROM|IN db] [LIKE ...|WHERE ...]`
    ShowTables {
        /// Database (`None` = current).
        database: Option<String>,
        /// `FULL` (adds `Table_type`).
        full: bool,
        /// Filter.
        filter: Option<ShowFilter>,
    },
    /// `SHOW CREATE TABLE [db.]t`
    ShowCreateTable {
        /// Table.
        name: TableName,
    },
    /// `DESC|DESCRIBE [db.]t [ALL]`
    Describe {
        /// Table.
        name: TableName,
        /// `ALL`
        all: bool,
    },
    /// `SHOW [FULL] COLUMNS|FIELDS FROM|IN t [FROM|IN db] [LIKE ...|WHERE ...]`
    ShowColumns {
        /// `FULL`
        full: bool,
        /// Table (may itself be qualified).
        table: TableName,
        /// The separate `FROM db`.
        database: Option<String>,
        /// Filter.
        filter: Option<ShowFilter>,
    },
    /// `SHOW TABLE STATUS [FROM|IN db] [LIKE ...|WHERE ...]`
    ShowTableStatus {
        /// Database.
        database: Option<String>,
        /// Filter.
        filter: Option<ShowFilter>,
    },
    /// `ALTER TABLE [db.]t <op>`
    AlterTable {
        /// Table.
        name: TableName,
        /// Operation.
        op: AlterTableOp,
    },

    // ----- tablets and replicas -----
    /// `SHOW TABLET ...`
    ShowTablet(ShowTablet),
    /// `ADMIN SHOW REPLICA STATUS FROM t [PARTITION (...)] [WHERE STATUS [!]= '...']`
    AdminShowReplicaStatus {
        /// Table.
        table: TableName,
        /// Partitions (empty = all).
        partitions: Vec<String>,
        /// Status filter.
        status_filter: Option<ReplicaStatusFilter>,
    },
    /// `ADMIN SHOW REPLICA DISTRIBUTION FROM t [PARTITION (...)]`
    AdminShowReplicaDistribution {
        /// Table.
        table: TableName,
        /// Partitions (empty = all).
        partitions: Vec<String>,
    },
    /// `ADMIN REPAIR TABLE t [PARTITION (...)]`
    AdminRepairTable {
        /// Table.
        table: TableName,
        /// Partitions (empty = all).
        partitions: Vec<String>,
    },
    /// `ADMIN CANCEL REPAIR TABLE t [PARTITION (...)]`
    AdminCancelRepairTable {
        /// Table.
        table: TableName,
        /// Partitions (empty = all).
        partitions: Vec<String>,
    },
    /// `ADMIN SET REPLICA STATUS PROPERTIES ("tablet_id" = "..", "backend_id" = "..", "status" = "bad")`
    AdminSetReplicaStatus {
        /// The properties, in order.
        properties: Vec<(String, String)>,
    },

    // ----- loads and transactions -----
    /// `SHOW TRANSACTION [FROM|IN db] WHERE id = n`
    ShowTransaction {
        /// Database.
        database: Option<String>,
        /// Transaction id.
        id: u64,
    },
    /// `SHOW LOAD [FROM|IN db] [WHERE ...] [ORDER BY ...] [LIMIT ...]`
    ShowLoad {
        /// Database.
        database: Option<String>,
        /// `WHERE` (LABEL = / LIKE, STATE = ...).
        filter: Option<Expr>,
        /// `ORDER BY`
        order_by: Vec<OrderByExpr>,
        /// `LIMIT`
        limit: Option<Limit>,
    },
    /// `CANCEL LOAD [FROM|IN db] WHERE LABEL = 'l'`
    CancelLoad {
        /// Database.
        database: Option<String>,
        /// Label.
        label: String,
    },
    /// `SHOW DATA [FROM [db.]t]`
    ShowData {
        /// Table, if given.
        table: Option<TableName>,
    },

    // ----- users and privileges -----
    /// `CREATE USER [IF NOT EXISTS] 'u'@'h' [IDENTIFIED BY [PASSWORD] '...']`
    CreateUser {
        /// `IF NOT EXISTS`
        if_not_exists: bool,
        /// The user.
        user: UserIdentity,
        /// Password.
        auth: Option<UserAuth>,
    },
    /// `ALTER USER [IF EXISTS] 'u'@'h' IDENTIFIED BY [PASSWORD] '...'`
    AlterUser {
        /// `IF EXISTS`
        if_exists: bool,
        /// The user.
        user: UserIdentity,
        /// The new password.
        auth: UserAuth,
    },
    /// `SET PROPERTY [FOR 'user'] 'key' = 'value' [, ...]` (StarRocks's user properties,
    /// e.g. `max_user_connections`).
    SetProperty {
        /// The user name (`None` = the current user).
        user: Option<String>,
        /// The properties, in order.
        properties: Vec<(String, String)>,
    },
    /// `DROP USER [IF EXISTS] 'u'@'h'`
    DropUser {
        /// `IF EXISTS`
        if_exists: bool,
        /// The user.
        user: UserIdentity,
    },
    /// `GRANT priv[, ...] ON *.*|db.*|db.tbl TO [USER] 'u'@'h' | ROLE r`
    Grant {
        /// Privileges.
        privileges: Vec<Privilege>,
        /// Object.
        object: GrantObject,
        /// Grantee.
        grantee: Grantee,
    },
    /// `REVOKE priv[, ...] ON ... FROM [USER] 'u'@'h' | ROLE r`
    Revoke {
        /// Privileges.
        privileges: Vec<Privilege>,
        /// Object.
        object: GrantObject,
        /// Grantee.
        grantee: Grantee,
    },
    /// `SHOW [ALL] GRANTS [FOR 'u'@'h']`
    ShowGrants {
        /// `ALL`
        all: bool,
        /// `FOR user`
        user: Option<UserIdentity>,
    },
}

fn write_filter(f: &mut fmt::Formatter<'_>, filter: &Option<ShowFilter>) -> fmt::Result {
    match filter {
        Some(flt) => write!(f, " {flt}"),
        None => Ok(()),
    }
}

fn write_from_db(f: &mut fmt::Formatter<'_>, db: &Option<String>) -> fmt::Result {
    match db {
        Some(d) => write!(f, " FROM {}", Ident(d)),
        None => Ok(()),
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Query(q) => write!(f, "{q}"),
            Statement::Insert(i) => write!(f, "{i}"),
            Statement::Explain { level, statement } => {
                f.write_str("EXPLAIN ")?;
                if *level != ExplainLevel::Normal {
                    write!(f, "{level} ")?;
                }
                write!(f, "{statement}")
            }
            Statement::Other(s) => write!(f, "{s}"),

            Statement::CreateDatabase {
                name,
                if_not_exists,
                properties,
            } => {
                f.write_str("CREATE DATABASE ")?;
                if *if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                write!(f, "{}", Ident(name))?;
                if !properties.is_empty() {
                    write!(f, " PROPERTIES {}", KvList(properties))?;
                }
                Ok(())
            }
            Statement::DropDatabase {
                name,
                if_exists,
                force,
            } => {
                f.write_str("DROP DATABASE ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{}", Ident(name))?;
                if *force {
                    f.write_str(" FORCE")?;
                }
                Ok(())
            }
            Statement::ShowDatabases { filter } => {
                f.write_str("SHOW DATABASES")?;
                write_filter(f, filter)
            }
            Statement::ShowCreateDatabase { name } => {
                write!(f, "SHOW CREATE DATABASE {}", Ident(name))
            }
            Statement::Use { catalog, database } => {
                f.write_str("USE ")?;
                if let Some(c) = catalog {
                    write!(f, "{}.", Ident(c))?;
                }
                write!(f, "{}", Ident(database))
            }

            Statement::AlterSystem(op) => write!(f, "{op}"),
            Statement::ShowFrontends => f.write_str("SHOW FRONTENDS"),
            Statement::ShowBackends => f.write_str("SHOW BACKENDS"),
            Statement::ShowProc { path } => write!(f, "SHOW PROC {}", Str(path)),
            Statement::AdminSetFrontendConfig { items } => {
                write!(f, "ADMIN SET FRONTEND CONFIG {}", KvList(items))
            }
            Statement::AdminShowFrontendConfig { like } => {
                f.write_str("ADMIN SHOW FRONTEND CONFIG")?;
                if let Some(p) = like {
                    write!(f, " LIKE {}", Str(p))?;
                }
                Ok(())
            }

            Statement::Set(items) => write!(f, "SET {}", Comma(items)),
            Statement::ShowVariables { global, filter } => {
                f.write_str(if *global {
                    "SHOW GLOBAL VARIABLES"
                } else {
                    "SHOW VARIABLES"
                })?;
                write_filter(f, filter)
            }
            Statement::ShowStatus { global, filter } => {
                f.write_str(if *global {
                    "SHOW GLOBAL STATUS"
                } else {
                    "SHOW STATUS"
                })?;
                write_filter(f, filter)
            }
            Statement::ShowProcesslist { full } => f.write_str(if *full {
                "SHOW FULL PROCESSLIST"
            } else {
                "SHOW PROCESSLIST"
            }),
            Statement::Kill {
                query_only,
                connection_id,
            } => {
                if *query_only {
                    write!(f, "KILL QUERY {connection_id}")
                } else {
                    write!(f, "KILL {connection_id}")
                }
            }
            Statement::ShowWarnings => f.write_str("SHOW WARNINGS"),
            Statement::ShowErrors => f.write_str("SHOW ERRORS"),
            Statement::ShowCharset { filter } => {
                f.write_str("SHOW CHARSET")?;
                write_filter(f, filter)
            }
            Statement::ShowCollation { filter } => {
                f.write_str("SHOW COLLATION")?;
                write_filter(f, filter)
            }
            Statement::ShowEngines => f.write_str("SHOW ENGINES"),
            Statement::Begin => f.write_str("BEGIN"),
            Statement::Commit => f.write_str("COMMIT"),
            Statement::Rollback => f.write_str("ROLLBACK"),

            Statement::CreateTable(t) => write!(f, "{t}"),
            Statement::DropTable {
                name,
                if_exists,
                force,
            } => {
                f.write_str("DROP TABLE ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{name}")?;
                if *force {
                    f.write_str(" FORCE")?;
                }
                Ok(())
            }
            Statement::ShowTables {
                database,
                full,
                filter,
            } => {
                f.write_str(if *full {
                    "SHOW FULL TABLES"
                } else {
                    "SHOW TABLES"
                })?;
                write_from_db(f, database)?;
                write_filter(f, filter)
            }
            Statement::ShowCreateTable { name } => write!(f, "SHOW CREATE TABLE {name}"),
            Statement::Describe { name, all } => {
                write!(f, "DESC {name}")?;
                if *all {
                    f.write_str(" ALL")?;
                }
                Ok(())
            }
            Statement::ShowColumns {
                full,
                table,
                database,
                filter,
            } => {
                f.write_str(if *full {
                    "SHOW FULL COLUMNS"
                } else {
                    "SHOW COLUMNS"
                })?;
                write!(f, " FROM {table}")?;
                write_from_db(f, database)?;
                write_filter(f, filter)
            }
            Statement::ShowTableStatus { database, filter } => {
                f.write_str("SHOW TABLE STATUS")?;
                write_from_db(f, database)?;
                write_filter(f, filter)
            }
            Statement::AlterTable { name, op } => write!(f, "ALTER TABLE {name} {op}"),

            Statement::ShowTablet(s) => write!(f, "{s}"),
            Statement::AdminShowReplicaStatus {
                table,
                partitions,
                status_filter,
            } => {
                write!(
                    f,
                    "ADMIN SHOW REPLICA STATUS FROM {table}{}",
                    PartitionNames(partitions)
                )?;
                if let Some(s) = status_filter {
                    write!(f, " {s}")?;
                }
                Ok(())
            }
            Statement::AdminShowReplicaDistribution { table, partitions } => write!(
                f,
                "ADMIN SHOW REPLICA DISTRIBUTION FROM {table}{}",
                PartitionNames(partitions)
            ),
            Statement::AdminRepairTable { table, partitions } => write!(
                f,
                "ADMIN REPAIR TABLE {table}{}",
                PartitionNames(partitions)
            ),
            Statement::AdminCancelRepairTable { table, partitions } => write!(
                f,
                "ADMIN CANCEL REPAIR TABLE {table}{}",
                PartitionNames(partitions)
            ),
            Statement::AdminSetReplicaStatus { properties } => write!(
                f,
                "ADMIN SET REPLICA STATUS PROPERTIES {}",
                KvList(properties)
            ),

            Statement::ShowTransaction { database, id } => {
                f.write_str("SHOW TRANSACTION")?;
                write_from_db(f, database)?;
                write!(f, " WHERE ID = {id}")
            }
            Statement::ShowLoad {
                database,
                filter,
                order_by,
                limit,
            } => {
                f.write_str("SHOW LOAD")?;
                write_from_db(f, database)?;
                write_where_order_limit(f, filter.as_ref(), order_by, limit.as_ref())
            }
            Statement::CancelLoad { database, label } => {
                f.write_str("CANCEL LOAD")?;
                write_from_db(f, database)?;
                write!(f, " WHERE LABEL = {}", Str(label))
            }
            Statement::ShowData { table } => {
                f.write_str("SHOW DATA")?;
                if let Some(t) = table {
                    write!(f, " FROM {t}")?;
                }
                Ok(())
            }

            Statement::CreateUser {
                if_not_exists,
                user,
                auth,
            } => {
                f.write_str("CREATE USER ")?;
                if *if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                write!(f, "{user}")?;
                if let Some(a) = auth {
                    write!(f, " {a}")?;
                }
                Ok(())
            }
            Statement::AlterUser {
                if_exists,
                user,
                auth,
            } => {
                f.write_str("ALTER USER ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{user} {auth}")
            }
            Statement::SetProperty { user, properties } => {
                f.write_str("SET PROPERTY ")?;
                if let Some(u) = user {
                    write!(f, "FOR {} ", Str(u))?;
                }
                for (i, (k, v)) in properties.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} = {}", Str(k), Str(v))?;
                }
                Ok(())
            }
            Statement::DropUser { if_exists, user } => {
                f.write_str("DROP USER ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{user}")
            }
            Statement::Grant {
                privileges,
                object,
                grantee,
            } => write!(f, "GRANT {} ON {object} TO {grantee}", Comma(privileges)),
            Statement::Revoke {
                privileges,
                object,
                grantee,
            } => write!(f, "REVOKE {} ON {object} FROM {grantee}", Comma(privileges)),
            Statement::ShowGrants { all, user } => {
                f.write_str(if *all {
                    "SHOW ALL GRANTS"
                } else {
                    "SHOW GRANTS"
                })?;
                if let Some(u) = user {
                    write!(f, " FOR {u}")?;
                }
                Ok(())
            }
        }
    }
}
