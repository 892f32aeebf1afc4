//! `CREATE/ALTER/DROP USER`, `SET PASSWORD`, `GRANT`, `REVOKE`, `SHOW GRANTS` (the privilege
//! checks are in [`crate::auth`]; these only change or show the catalog).

use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use meta::JournalOp;
use meta::catalog::auth::Priv;
use meta::catalog::auth::PrivObject;
use meta::catalog::auth::PrivSet;
use sql::GrantObject;
use sql::Grantee;
use sql::Privilege;
use sql::UserAuth;
use sql::UserIdentity;
use sql::statements::set::PasswordValue;

use crate::exec::database::write_op;
use crate::frontend::Frontend;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

/// Replaces plain-text passwords in a statement by their hash, so that only hashes travel
/// to the leader and reach the journal.
pub fn hash_passwords(stmt: &mut sql::Statement) {
    let hash = |a: &mut UserAuth| {
        if let UserAuth::Password(p) = a {
            *a = UserAuth::HashedPassword(crate::auth::hash_password(p));
        }
    };
    match stmt {
        sql::Statement::CreateUser { auth: Some(a), .. }
        | sql::Statement::AlterUser { auth: a, .. } => hash(a),
        sql::Statement::Set(items) => {
            for it in items {
                if let sql::SetItem::Password { password, .. } = it
                    && let PasswordValue::Plain(p) = password
                {
                    *password = PasswordValue::Hashed(crate::auth::hash_password(p));
                }
            }
        }
        _ => {}
    }
}

fn auth_hash(auth: Option<&UserAuth>) -> String {
    match auth {
        None => String::new(),
        Some(UserAuth::Password(p)) => crate::auth::hash_password(p),
        Some(UserAuth::HashedPassword(h)) => h.clone(),
    }
}

/// `CREATE USER`.
pub async fn create_user(
    fe: &Arc<Frontend>,
    session: &mut Session,
    user: &UserIdentity,
    auth: Option<&UserAuth>,
    if_not_exists: bool,
) -> Result<Outcome> {
    crate::exec::database::check_length(
        "user",
        &user.user,
        fe.config().max_identifier_length.max(1) as usize,
    )?;
    let op = JournalOp::CreateUser {
        name: user.user.clone(),
        host: user.host.clone(),
        password: auth_hash(auth),
        if_not_exists,
    };
    Ok(Outcome::ok(write_op(fe, session, op).await?))
}

/// `DROP USER`.
pub async fn drop_user(
    fe: &Arc<Frontend>,
    session: &mut Session,
    user: &UserIdentity,
    if_exists: bool,
) -> Result<Outcome> {
    let op = JournalOp::DropUser {
        name: user.user.clone(),
        host: user.host.clone(),
        if_exists,
    };
    Ok(Outcome::ok(write_op(fe, session, op).await?))
}

/// `ALTER USER ... IDENTIFIED BY` and `SET PASSWORD [FOR u]`.
pub async fn set_password(
    fe: &Arc<Frontend>,
    session: &mut Session,
    user: Option<&UserIdentity>,
    hash: String,
    if_exists: bool,
) -> Result<Outcome> {
    let (name, host) = match user {
        Some(u) => (u.user.clone(), u.host.clone()),
        None => (session.user.clone(), session.host.clone()),
    };
    if if_exists
        && fe
            .journal
            .state
            .read(|s| s.catalog.users.get(&name, &host).is_none())
    {
        return Ok(Outcome::ok(0));
    }
    let op = JournalOp::SetPassword {
        name,
        host,
        password: hash,
    };
    write_op(fe, session, op).await?;
    Ok(Outcome::ok(0))
}

/// `SET PROPERTY [FOR 'u'] 'key' = 'value', ...`: every property is checked before any is
/// journaled, so a bad one changes nothing.
pub async fn set_property(
    fe: &Arc<Frontend>,
    session: &mut Session,
    user: Option<&str>,
    properties: &[(String, String)],
) -> Result<Outcome> {
    let name = user.unwrap_or(&session.user).to_string();
    let mut probe = fe.journal.state.read(|s| {
        s.catalog
            .user_properties
            .get(&name)
            .cloned()
            .unwrap_or_default()
    });
    for (k, v) in properties {
        probe.set(k, v)?;
    }
    for (k, v) in properties {
        let op = JournalOp::SetUserProperty {
            name: name.clone(),
            key: k.to_ascii_lowercase(),
            value: v.clone(),
        };
        write_op(fe, session, op).await?;
    }
    Ok(Outcome::ok(0))
}

/// The catalog privileges a SQL privilege list means on `object`.
pub fn privileges(list: &[Privilege], object: &PrivObject) -> Result<PrivSet> {
    let mut out = PrivSet::EMPTY;
    for p in list {
        let add: &[Priv] = match p {
            Privilege::Select => &[Priv::Select],
            Privilege::Insert | Privilege::Load => &[Priv::Insert],
            Privilege::Alter => &[Priv::Alter],
            Privilege::Create => &[Priv::Create],
            Privilege::Drop => &[Priv::Drop],
            Privilege::Node => &[Priv::Node],
            Privilege::Operator => &[Priv::Operator],
            Privilege::Grant => &[Priv::Grant],
            // ALL: every privilege the object can carry, but never NODE (as in StarRocks).
            Privilege::All if *object == PrivObject::Global => &[
                Priv::Select,
                Priv::Insert,
                Priv::Alter,
                Priv::Create,
                Priv::Drop,
                Priv::Operator,
                Priv::Grant,
            ],
            Privilege::All => &Priv::OBJECT,
            // ADMIN (StarRocks 2.x's ADMIN_PRIV): everything but NODE, on *.* only.
            Privilege::Admin => &[
                Priv::Select,
                Priv::Insert,
                Priv::Alter,
                Priv::Create,
                Priv::Drop,
                Priv::Operator,
                Priv::Grant,
            ],
            Privilege::Usage => &[],
            Privilege::Delete | Privilege::Update => {
                return Err(Error::new(
                    StatusCode::Unsupported,
                    format!(
                        "the {p} privilege is not supported by this version of Tessera (tables \
                         take no DELETE or UPDATE)"
                    ),
                ));
            }
        };
        if *p == Privilege::Admin && *object != PrivObject::Global {
            return Err(Error::invalid("ADMIN can only be granted on *.*"));
        }
        out = out.union(PrivSet::of(add));
    }
    Ok(out)
}

fn object_of(session: &Session, object: &GrantObject) -> Result<PrivObject> {
    Ok(match object {
        GrantObject::Global => PrivObject::Global,
        GrantObject::Database(db) => PrivObject::Database(db.clone()),
        GrantObject::Table(t) => {
            let db = crate::exec::tables::resolve_db(session, t)?;
            PrivObject::Table(db, t.table.clone())
        }
    })
}

/// `GRANT` (`revoke` = false) / `REVOKE`.
pub async fn grant(
    fe: &Arc<Frontend>,
    session: &mut Session,
    list: &[Privilege],
    object: &GrantObject,
    grantee: &Grantee,
    revoke: bool,
) -> Result<Outcome> {
    let Grantee::User(user) = grantee else {
        return Err(Error::new(
            StatusCode::Unsupported,
            "roles are not supported by this version of Tessera: grant to a user",
        ));
    };
    let object = object_of(session, object)?;
    let privs = privileges(list, &object)?;
    let op = JournalOp::ChangePrivileges {
        name: user.user.clone(),
        host: user.host.clone(),
        object,
        privs,
        revoke,
    };
    write_op(fe, session, op).await?;
    Ok(Outcome::ok(0))
}

/// `SHOW [ALL] GRANTS [FOR u]`: one row per grant, as a `GRANT` statement.
pub fn show_grants(
    fe: &Arc<Frontend>,
    session: &Session,
    all: bool,
    user: Option<&UserIdentity>,
) -> Result<Outcome> {
    let users = fe.journal.state.read(|s| {
        if all {
            Ok(s.catalog.users.all())
        } else {
            let (name, host) = match user {
                Some(u) => (u.user.as_str(), u.host.as_str()),
                None => (session.user.as_str(), session.host.as_str()),
            };
            s.catalog
                .users
                .get(name, host)
                .map(|u| vec![u])
                .ok_or_else(|| {
                    Error::new(
                        StatusCode::UserOperationFailed,
                        format!(
                            "There is no such grant defined for user {}",
                            meta::catalog::auth::identity(name, host)
                        ),
                    )
                })
        }
    })?;
    let mut rows = RowSet::with_text_columns(&["UserIdentity", "Catalog", "Grants"]);
    for u in users {
        let id = u.identity();
        let grants = u.grants();
        if grants.is_empty() {
            rows.push(vec![
                id.clone().into(),
                "default_catalog".into(),
                format!("GRANT USAGE ON *.* TO {id}").into(),
            ]);
        }
        for (object, privs) in grants {
            let on = match &object {
                PrivObject::Global => "*.*".to_string(),
                PrivObject::Database(db) => format!("{db}.*"),
                PrivObject::Table(db, t) => format!("{db}.{t}"),
            };
            rows.push(vec![
                id.clone().into(),
                "default_catalog".into(),
                format!("GRANT {privs} ON {on} TO {id}").into(),
            ]);
        }
    }
    Ok(Outcome::Rows(rows))
}
