//! `ADMIN SET FRONTEND CONFIG` and `ADMIN SHOW FRONTEND CONFIG`.
//!
//! Unlike StarRocks, where a change applies to the FE that ran it (and is lost on restart), a
//! change here is journaled: every FE applies it, and it survives restarts and failovers.

use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use common::config::fe::FeConfig;
use meta::JournalOp;

use crate::exec::database::write_op;
use crate::exec::variables::like_matches;
use crate::frontend::Frontend;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

/// `ADMIN SET FRONTEND CONFIG ("key" = "value", ...)`.
pub async fn set(
    fe: &Arc<Frontend>,
    session: &mut Session,
    items: Vec<(String, String)>,
) -> Result<Outcome> {
    if items.is_empty() {
        return Err(Error::invalid(
            "ADMIN SET FRONTEND CONFIG needs at least one \"key\" = \"value\"",
        ));
    }
    let mut check = fe.config();
    for (k, v) in &items {
        let Some(info) = FeConfig::key_info(k) else {
            return Err(Error::new(
                StatusCode::ConfigNotFound,
                format!("Config '{k}' does not exist"),
            ));
        };
        if !info.mutable {
            return Err(Error::new(
                StatusCode::ConfigNotMutable,
                format!("Config '{k}' is not mutable; set it in fe.conf and restart the frontend"),
            ));
        }
        check
            .set(k, v)
            .map_err(|e| Error::invalid(format!("Invalid value for config '{k}': {e}")))?;
    }
    check.validate()?;
    write_op(fe, session, JournalOp::SetFrontendConfig { items }).await?;
    Ok(Outcome::ok(0))
}

/// `ADMIN SHOW FRONTEND CONFIG [LIKE 'pattern']`: Key, AliasNames, Value, Type, IsMutable,
/// Comment.
pub fn show(fe: &Arc<Frontend>, like: Option<&str>) -> Outcome {
    let config = fe.config();
    let mut rows =
        RowSet::with_text_columns(&["Key", "AliasNames", "Value", "Type", "IsMutable", "Comment"]);
    for k in FeConfig::KEYS {
        if k.name.starts_with("debug_") {
            continue;
        }
        if let Some(p) = like
            && !like_matches(p, k.name)
        {
            continue;
        }
        rows.push(vec![
            k.name.into(),
            "[]".into(),
            config.get(k.name).unwrap_or_default().into(),
            k.type_name.into(),
            k.mutable.into(),
            k.comment.trim().into(),
        ]);
    }
    Outcome::Rows(rows)
}
