//! CREATE/DROP USER, GRANT, REVOKE, SHOW GRANTS.

use tessera_sql::{GrantObject, Grantee, Privilege, Statement, TableName, UserAuth, UserIdentity};

use crate::common::{check_all_eq, check_eq};

#[test]
fn create_user() {
    check_eq(
        "CREATE USER 'jack'@'%' IDENTIFIED BY '123'",
        Statement::CreateUser {
            if_not_exists: false,
            user: UserIdentity::new("jack", "%"),
            auth: Some(UserAuth::Password("123".into())),
        },
    );
    check_eq(
        "create user if not exists 'jack'@'192.168.%'",
        Statement::CreateUser {
            if_not_exists: true,
            user: UserIdentity::new("jack", "192.168.%"),
            auth: None,
        },
    );
    check_eq(
        "CREATE USER jack IDENTIFIED BY PASSWORD '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9'",
        Statement::CreateUser {
            if_not_exists: false,
            user: UserIdentity::new("jack", "%"),
            auth: Some(UserAuth::HashedPassword(
                "*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9".into(),
            )),
        },
    );
    check_all_eq(&[
        "CREATE USER 'jack'@'localhost'",
        "CREATE USER jack@localhost",
        "CREATE USER \"jack\"@\"localhost\"",
        "CREATE USER 'jack'@localhost",
        "CREATE USER jack@'localhost'",
    ]);
}

#[test]
fn alter_user() {
    check_eq(
        "ALTER USER 'jack'@'%' IDENTIFIED BY 'new'",
        Statement::AlterUser {
            if_exists: false,
            user: UserIdentity::new("jack", "%"),
            auth: UserAuth::Password("new".into()),
        },
    );
    check_eq(
        "alter user if exists jack identified by password '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9'",
        Statement::AlterUser {
            if_exists: true,
            user: UserIdentity::new("jack", "%"),
            auth: UserAuth::HashedPassword("*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9".into()),
        },
    );
    assert!(tessera_sql::parse_statement("ALTER USER jack").is_err());
}

#[test]
fn drop_user() {
    check_eq(
        "DROP USER 'jack'@'%'",
        Statement::DropUser {
            if_exists: false,
            user: UserIdentity::new("jack", "%"),
        },
    );
    check_eq(
        "drop user if exists jack",
        Statement::DropUser {
            if_exists: true,
            user: UserIdentity::new("jack", "%"),
        },
    );
}

#[test]
fn grant() {
    check_eq(
        "GRANT SELECT, INSERT ON db.* TO 'u'@'%'",
        Statement::Grant {
            privileges: vec![Privilege::Select, Privilege::Insert],
            object: GrantObject::Database("db".into()),
            grantee: Grantee::User(UserIdentity::new("u", "%")),
        },
    );
    check_eq(
        "grant node, operator on *.* to user 'admin'@'%'",
        Statement::Grant {
            privileges: vec![Privilege::Node, Privilege::Operator],
            object: GrantObject::Global,
            grantee: Grantee::User(UserIdentity::new("admin", "%")),
        },
    );
    check_eq(
        "GRANT ALL PRIVILEGES ON db.tbl TO 'u'",
        Statement::Grant {
            privileges: vec![Privilege::All],
            object: GrantObject::Table(TableName::qualified("db", "tbl")),
            grantee: Grantee::User(UserIdentity::new("u", "%")),
        },
    );
    check_eq(
        "GRANT ALTER, CREATE, DROP ON tbl TO ROLE r1",
        Statement::Grant {
            privileges: vec![Privilege::Alter, Privilege::Create, Privilege::Drop],
            object: GrantObject::Table(TableName::new("tbl")),
            grantee: Grantee::Role("r1".into()),
        },
    );
    // StarRocks 2.x privilege names.
    check_all_eq(&[
        "GRANT SELECT_PRIV, LOAD_PRIV ON db.* TO 'u'@'%'",
        "GRANT SELECT, LOAD ON db.* TO 'u'@'%'",
        "GRANT SELECT, LOAD ON DATABASE db TO 'u'@'%'",
    ]);
    check_all_eq(&[
        "GRANT SELECT ON TABLE db.t TO 'u'@'%'",
        "GRANT SELECT ON db.t TO 'u'@'%'",
    ]);
}

#[test]
fn revoke() {
    check_eq(
        "REVOKE INSERT ON db.* FROM 'u'@'%'",
        Statement::Revoke {
            privileges: vec![Privilege::Insert],
            object: GrantObject::Database("db".into()),
            grantee: Grantee::User(UserIdentity::new("u", "%")),
        },
    );
    check_eq(
        "revoke all on *.* from role r",
        Statement::Revoke {
            privileges: vec![Privilege::All],
            object: GrantObject::Global,
            grantee: Grantee::Role("r".into()),
        },
    );
}

#[test]
fn show_grants() {
    check_eq(
        "SHOW GRANTS",
        Statement::ShowGrants {
            all: false,
            user: None,
        },
    );
    check_eq(
        "show all grants",
        Statement::ShowGrants {
            all: true,
            user: None,
        },
    );
    check_eq(
        "SHOW GRANTS FOR 'u'@'h'",
        Statement::ShowGrants {
            all: false,
            user: Some(UserIdentity::new("u", "h")),
        },
    );
}
