//! Databases, USE, SET, and the MySQL session SHOW/KILL/transaction statements.

use tessera_sql::sqlparser::ast::Expr;
use tessera_sql::{
    IsolationLevel, PasswordValue, SetItem, SetValue, ShowFilter, Statement, TransactionMode,
    UserIdentity, VarScope,
};

use crate::common::{check, check_all_eq, check_eq, expr, kv, parse_err};

#[test]
fn create_database() {
    check_eq(
        "CREATE DATABASE db1",
        Statement::CreateDatabase {
            name: "db1".into(),
            if_not_exists: false,
            properties: vec![],
        },
    );
    check_eq(
        "create schema if not exists `My-Db` properties ('replication_num' = \"1\", \"k\" = 'v')",
        Statement::CreateDatabase {
            name: "My-Db".into(),
            if_not_exists: true,
            properties: kv(&[("replication_num", "1"), ("k", "v")]),
        },
    );
    // Case of names is kept.
    assert!(
        matches!(check("CREATE DATABASE MyDb"), Statement::CreateDatabase { name, .. } if name == "MyDb")
    );
    check_all_eq(&[
        "CREATE DATABASE d",
        "create schema d",
        "CrEaTe DaTaBaSe `d`",
    ]);
}

#[test]
fn drop_database() {
    check_eq(
        "DROP DATABASE db1",
        Statement::DropDatabase {
            name: "db1".into(),
            if_exists: false,
            force: false,
        },
    );
    check_eq(
        "drop schema if exists `db1` force",
        Statement::DropDatabase {
            name: "db1".into(),
            if_exists: true,
            force: true,
        },
    );
}

#[test]
fn show_databases() {
    check_eq("SHOW DATABASES", Statement::ShowDatabases { filter: None });
    check_all_eq(&["SHOW DATABASES", "show schemas"]);
    check_eq(
        "SHOW DATABASES LIKE 'd%'",
        Statement::ShowDatabases {
            filter: Some(ShowFilter::Like("d%".into())),
        },
    );
    check_all_eq(&["SHOW DATABASES LIKE 'd%'", "SHOW DATABASES LIKE \"d%\""]);
    check_eq(
        "SHOW DATABASES WHERE `Database` = 'x'",
        Statement::ShowDatabases {
            filter: Some(ShowFilter::Where(expr("`Database` = 'x'"))),
        },
    );
    check_eq(
        "SHOW CREATE DATABASE db1",
        Statement::ShowCreateDatabase { name: "db1".into() },
    );
}

#[test]
fn use_database() {
    check_eq(
        "USE db1",
        Statement::Use {
            catalog: None,
            database: "db1".into(),
        },
    );
    check_eq(
        "use `Db 1`",
        Statement::Use {
            catalog: None,
            database: "Db 1".into(),
        },
    );
    check_eq(
        "USE default_catalog.db1",
        Statement::Use {
            catalog: Some("default_catalog".into()),
            database: "db1".into(),
        },
    );
}

fn var(scope: VarScope, name: &str, value: &str) -> SetItem {
    SetItem::Variable {
        scope,
        name: name.into(),
        value: SetValue::Expr(expr(value)),
    }
}

#[test]
fn set_variables() {
    check_eq(
        "SET autocommit = 0",
        Statement::Set(vec![var(VarScope::Session, "autocommit", "0")]),
    );
    check_all_eq(&[
        "SET query_timeout = 600",
        "set SESSION query_timeout = 600",
        "SET LOCAL query_timeout=600",
        "SET @@session.query_timeout = 600",
        "SET @@local.query_timeout = 600",
        "SET @@query_timeout = 600",
        "SET query_timeout := 600",
    ]);
    check_all_eq(&[
        "SET GLOBAL query_timeout = 600",
        "set @@global.query_timeout = 600",
        "SET @@GLOBAL.query_timeout = 600",
    ]);
    check_eq(
        "SET GLOBAL exec_mem_limit = 1024",
        Statement::Set(vec![var(VarScope::Global, "exec_mem_limit", "1024")]),
    );
    check_eq(
        "SET sql_mode = DEFAULT",
        Statement::Set(vec![SetItem::Variable {
            scope: VarScope::Session,
            name: "sql_mode".into(),
            value: SetValue::Default,
        }]),
    );
    check_eq(
        "SET time_zone = '+08:00', character_set_results = NULL, x = ON",
        Statement::Set(vec![
            var(VarScope::Session, "time_zone", "'+08:00'"),
            var(VarScope::Session, "character_set_results", "NULL"),
            var(VarScope::Session, "x", "ON"),
        ]),
    );
    // A variable that happens to be called like a scope word.
    check_eq(
        "SET global = 1",
        Statement::Set(vec![var(VarScope::Session, "global", "1")]),
    );
}

#[test]
fn set_user_variable() {
    check_eq(
        "SET @v = 1 + 2",
        Statement::Set(vec![SetItem::UserVariable {
            name: "v".into(),
            value: expr("1 + 2"),
        }]),
    );
    check_eq(
        "SET @a = 'x', @@session.wait_timeout = 28800",
        Statement::Set(vec![
            SetItem::UserVariable {
                name: "a".into(),
                value: expr("'x'"),
            },
            var(VarScope::Session, "wait_timeout", "28800"),
        ]),
    );
}

#[test]
fn set_names_and_charset() {
    check_eq(
        "SET NAMES utf8mb4",
        Statement::Set(vec![SetItem::Names {
            charset: Some("utf8mb4".into()),
            collation: None,
        }]),
    );
    check_all_eq(&[
        "SET NAMES utf8mb4",
        "set names 'utf8mb4'",
        "SET NAMES \"utf8mb4\"",
    ]);
    check_eq(
        "SET NAMES utf8mb4 COLLATE utf8mb4_general_ci",
        Statement::Set(vec![SetItem::Names {
            charset: Some("utf8mb4".into()),
            collation: Some("utf8mb4_general_ci".into()),
        }]),
    );
    check_eq(
        "SET NAMES DEFAULT",
        Statement::Set(vec![SetItem::Names {
            charset: None,
            collation: None,
        }]),
    );
    check_eq(
        "SET CHARACTER SET utf8",
        Statement::Set(vec![SetItem::CharacterSet(Some("utf8".into()))]),
    );
    check_all_eq(&["SET CHARACTER SET utf8", "set charset utf8"]);
    check_eq(
        "SET CHARACTER SET DEFAULT",
        Statement::Set(vec![SetItem::CharacterSet(None)]),
    );
    check_eq(
        "SET NAMES utf8, autocommit = 1",
        Statement::Set(vec![
            SetItem::Names {
                charset: Some("utf8".into()),
                collation: None,
            },
            var(VarScope::Session, "autocommit", "1"),
        ]),
    );
}

#[test]
fn set_password() {
    check_eq(
        "SET PASSWORD = PASSWORD('secret')",
        Statement::Set(vec![SetItem::Password {
            user: None,
            password: PasswordValue::Plain("secret".into()),
        }]),
    );
    check_eq(
        "set password for 'jack'@'%' = '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9'",
        Statement::Set(vec![SetItem::Password {
            user: Some(UserIdentity::new("jack", "%")),
            password: PasswordValue::Hashed("*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9".into()),
        }]),
    );
    check_all_eq(&[
        "SET PASSWORD FOR 'jack'@'%' = PASSWORD('x')",
        "SET PASSWORD FOR 'jack' = PASSWORD('x')",
        "SET PASSWORD FOR \"jack\"@\"%\" = PASSWORD(\"x\")",
    ]);
}

#[test]
fn set_transaction() {
    check_eq(
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
        Statement::Set(vec![SetItem::Transaction {
            scope: Some(VarScope::Session),
            modes: vec![TransactionMode::IsolationLevel(
                IsolationLevel::ReadCommitted,
            )],
        }]),
    );
    check_eq(
        "set transaction read only",
        Statement::Set(vec![SetItem::Transaction {
            scope: None,
            modes: vec![TransactionMode::ReadOnly],
        }]),
    );
    check_eq(
        "SET GLOBAL TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ WRITE",
        Statement::Set(vec![SetItem::Transaction {
            scope: Some(VarScope::Global),
            modes: vec![
                TransactionMode::IsolationLevel(IsolationLevel::RepeatableRead),
                TransactionMode::ReadWrite,
            ],
        }]),
    );
    for level in ["READ UNCOMMITTED", "SERIALIZABLE"] {
        check(&format!("SET TRANSACTION ISOLATION LEVEL {level}"));
    }
}

#[test]
fn show_variables_and_status() {
    check_eq(
        "SHOW VARIABLES",
        Statement::ShowVariables {
            global: false,
            filter: None,
        },
    );
    check_all_eq(&[
        "SHOW VARIABLES LIKE 'lower_case_%'",
        "show session variables like 'lower_case_%'",
        "SHOW LOCAL VARIABLES LIKE \"lower_case_%\"",
    ]);
    check_eq(
        "SHOW GLOBAL VARIABLES WHERE Variable_name = 'version'",
        Statement::ShowVariables {
            global: true,
            filter: Some(ShowFilter::Where(expr("Variable_name = 'version'"))),
        },
    );
    check_eq(
        "SHOW STATUS LIKE 'Uptime'",
        Statement::ShowStatus {
            global: false,
            filter: Some(ShowFilter::Like("Uptime".into())),
        },
    );
    check_eq(
        "show global status",
        Statement::ShowStatus {
            global: true,
            filter: None,
        },
    );
}

#[test]
fn show_misc_session() {
    check_eq(
        "SHOW PROCESSLIST",
        Statement::ShowProcesslist { full: false },
    );
    check_eq(
        "show full processlist",
        Statement::ShowProcesslist { full: true },
    );
    check_eq("SHOW WARNINGS", Statement::ShowWarnings);
    check_eq("SHOW ERRORS", Statement::ShowErrors);
    check_eq("SHOW ENGINES", Statement::ShowEngines);
    check_all_eq(&["SHOW ENGINES", "SHOW STORAGE ENGINES"]);
    check_eq("SHOW CHARSET", Statement::ShowCharset { filter: None });
    check_all_eq(&[
        "SHOW CHARSET LIKE 'utf8%'",
        "SHOW CHARACTER SET LIKE 'utf8%'",
    ]);
    check_eq(
        "SHOW COLLATION WHERE Charset = 'utf8mb4'",
        Statement::ShowCollation {
            filter: Some(ShowFilter::Where(expr("Charset = 'utf8mb4'"))),
        },
    );
}

#[test]
fn kill() {
    check_eq(
        "KILL 42",
        Statement::Kill {
            query_only: false,
            connection_id: 42,
        },
    );
    check_all_eq(&["KILL 42", "kill connection 42"]);
    check_eq(
        "KILL QUERY 7",
        Statement::Kill {
            query_only: true,
            connection_id: 7,
        },
    );
}

#[test]
fn transaction_control() {
    check_all_eq(&[
        "BEGIN",
        "begin work",
        "START TRANSACTION",
        "START TRANSACTION WITH CONSISTENT SNAPSHOT",
    ]);
    check_eq("BEGIN", Statement::Begin);
    check_eq("commit", Statement::Commit);
    check_eq("COMMIT WORK", Statement::Commit);
    check_eq("ROLLBACK", Statement::Rollback);
    check_eq("rollback work", Statement::Rollback);
}

#[test]
fn set_value_keeps_bare_words_as_identifiers() {
    let Statement::Set(items) = check("SET tx_isolation = READ_COMMITTED_X") else {
        unreachable!()
    };
    assert!(
        matches!(&items[0], SetItem::Variable { value: SetValue::Expr(Expr::Identifier(i)), .. }
        if i.value == "READ_COMMITTED_X")
    );
}

#[test]
fn set_property() {
    check_eq(
        "SET PROPERTY FOR 'jack' 'max_user_connections' = '3'",
        Statement::SetProperty {
            user: Some("jack".into()),
            properties: kv(&[("max_user_connections", "3")]),
        },
    );
    // A host is accepted and dropped: properties belong to the user name.
    check_eq(
        "set property for 'jack'@'%' \"max_user_connections\" = 10, 'k' = 'v'",
        Statement::SetProperty {
            user: Some("jack".into()),
            properties: kv(&[("max_user_connections", "10"), ("k", "v")]),
        },
    );
    check_eq(
        "SET PROPERTY 'max_user_connections' = '5'",
        Statement::SetProperty {
            user: None,
            properties: kv(&[("max_user_connections", "5")]),
        },
    );
    // `property` as a variable name is still a variable.
    assert!(matches!(
        check("SET property = 1"),
        Statement::Set(items) if matches!(&items[0], SetItem::Variable { name, .. } if name == "property")
    ));
    parse_err("SET PROPERTY FOR 'jack'");
    parse_err("SET PROPERTY 'max_user_connections'");
}
