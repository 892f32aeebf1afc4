//! The web console on `http_port`: server-rendered pages for the frontends, backends, tables
//! (with a drill-down per table) and replica repair, a cluster health summary, and the same
//! data as JSON under `/api/console/...` (see docs/console.md).
//!
//! Every page and endpoint needs HTTP Basic credentials (the MySQL users'; StarRocks's web UI
//! asks for them too). Any frontend serves the console; see [`data`] for where each page's
//! data comes from.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::Request;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Html;
use axum::response::IntoResponse;
use axum::response::Redirect;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use crate::frontend::Frontend;

pub mod data;
pub mod html;

const CSS: &str = include_str!("console.css");

/// Auto-refresh period when the URL does not say (`?refresh=N`, 0 = off).
const DEFAULT_REFRESH_S: u32 = 5;
/// Tablets listed on a table's page unless `?limit=N` says otherwise.
const DEFAULT_TABLET_LIMIT: usize = 200;
const MAX_TABLET_LIMIT: usize = 100_000;

/// The console's routes (merged into the FE's HTTP router).
pub fn router() -> Router<Arc<Frontend>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(overview_page))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/frontends", get(frontends_page))
        .route("/console/backends", get(backends_page))
        .route("/console/tables", get(tables_page))
        .route("/console/tables/{db}/{table}", get(table_page))
        .route("/console/repair", get(repair_page))
        .route("/console/console.css", get(css))
        .route("/console/{*rest}", get(unknown_page))
        .route("/api/console/overview", get(overview_json))
        .route("/api/console/frontends", get(frontends_json))
        .route("/api/console/backends", get(backends_json))
        .route("/api/console/tables", get(tables_json))
        .route("/api/console/tables/{db}/{table}", get(table_json))
        .route("/api/console/repair", get(repair_json))
        .route_layer(axum::middleware::from_fn(security_headers))
}

/// Security headers on every console answer (the FE's router checked the credentials
/// before this runs: see `crate::http::router`).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// A rejected request: HTTP status, StarRocks-style error code, message.
#[derive(Debug)]
struct Failure {
    http: StatusCode,
    code: common::StatusCode,
    msg: String,
}

impl Failure {
    fn bad_request(msg: impl Into<String>) -> Failure {
        Failure {
            http: StatusCode::BAD_REQUEST,
            code: common::StatusCode::InvalidArgument,
            msg: msg.into(),
        }
    }
}

impl From<common::Error> for Failure {
    fn from(e: common::Error) -> Failure {
        let http = match e.code {
            common::StatusCode::TableNotFound | common::StatusCode::DatabaseNotFound => {
                StatusCode::NOT_FOUND
            }
            common::StatusCode::InvalidArgument => StatusCode::BAD_REQUEST,
            common::StatusCode::NoLeader
            | common::StatusCode::Unreachable
            | common::StatusCode::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Failure {
            http,
            code: e.code,
            msg: e.message,
        }
    }
}

/// The query parameters a page accepts; anything else is a 400.
#[derive(Debug, Default, PartialEq, Eq)]
struct Params {
    refresh: u32,
    db: Option<String>,
    limit: usize,
    only_unhealthy: bool,
}

/// Parses `q` allowing only the keys in `allowed` (`refresh` is always allowed).
fn params(q: &HashMap<String, String>, allowed: &[&str]) -> Result<Params, Failure> {
    let mut p = Params {
        refresh: DEFAULT_REFRESH_S,
        db: None,
        limit: DEFAULT_TABLET_LIMIT,
        only_unhealthy: false,
    };
    let mut keys: Vec<&String> = q.keys().collect();
    keys.sort();
    for k in keys {
        let v = q.get(k).map(String::as_str).unwrap_or_default();
        if k != "refresh" && !allowed.contains(&k.as_str()) {
            return Err(Failure::bad_request(format!(
                "unknown query parameter '{k}'; this page accepts: refresh{}",
                allowed.iter().map(|a| format!(", {a}")).collect::<String>()
            )));
        }
        match k.as_str() {
            "refresh" => {
                p.refresh = v.parse().ok().filter(|s| *s <= 3600).ok_or_else(|| {
                    Failure::bad_request(format!(
                        "refresh must be a number of seconds from 0 (off) to 3600, not '{v}'"
                    ))
                })?;
            }
            "db" => {
                if v.is_empty() {
                    return Err(Failure::bad_request("db must name a database"));
                }
                p.db = Some(v.to_string());
            }
            "limit" => {
                p.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_TABLET_LIMIT).contains(n))
                    .ok_or_else(|| {
                        Failure::bad_request(format!(
                            "limit must be a number of tablets from 1 to {MAX_TABLET_LIMIT}, not \
                             '{v}'"
                        ))
                    })?;
            }
            "only" => {
                if v != "unhealthy" {
                    return Err(Failure::bad_request(format!(
                        "only accepts 'unhealthy', not '{v}'"
                    )));
                }
                p.only_unhealthy = true;
            }
            _ => {}
        }
    }
    Ok(p)
}

type QueryResult = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

fn query_map(q: QueryResult) -> Result<HashMap<String, String>, Failure> {
    q.map(|Query(m)| m)
        .map_err(|e| Failure::bad_request(format!("malformed query string: {e}")))
}

fn html_page(fe: &Frontend, title: &str, active: &str, refresh: u32, body: &str) -> Response {
    Html(html::page(
        title,
        active,
        &data::self_ref(fe),
        refresh,
        body,
    ))
    .into_response()
}

fn html_failure(fe: &Frontend, f: Failure) -> Response {
    let title = f.http.canonical_reason().unwrap_or("Error");
    let mut r = html_page(fe, title, "", 0, &html::error_body(f.http.as_u16(), &f.msg));
    *r.status_mut() = f.http;
    r
}

fn json_failure(f: Failure) -> Response {
    (
        f.http,
        Json(json!({"status": "FAILED", "code": f.code.number(), "msg": f.msg})),
    )
        .into_response()
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

async fn unknown_page(State(fe): State<Arc<Frontend>>) -> Response {
    html_failure(
        &fe,
        Failure {
            http: StatusCode::NOT_FOUND,
            code: common::StatusCode::InvalidArgument,
            msg: "No such console page; the pages are Overview, Frontends, Backends, Tables and \
                  Repair."
                .into(),
        },
    )
}

async fn overview_page(State(fe): State<Arc<Frontend>>, q: QueryResult) -> Response {
    let r = async {
        let p = params(&query_map(q)?, &[])?;
        let o = data::overview(&fe).await?;
        Ok::<_, Failure>((p, o))
    }
    .await;
    match r {
        Ok((p, o)) => html_page(&fe, "Overview", "/console", p.refresh, &html::overview(&o)),
        Err(f) => html_failure(&fe, f),
    }
}

async fn frontends_page(State(fe): State<Arc<Frontend>>, q: QueryResult) -> Response {
    let r = async {
        let p = params(&query_map(q)?, &[])?;
        Ok::<_, Failure>((p, data::frontends(&fe).await?))
    }
    .await;
    match r {
        Ok((p, f)) => html_page(
            &fe,
            "Frontends",
            "/console/frontends",
            p.refresh,
            &html::frontends(&f),
        ),
        Err(f) => html_failure(&fe, f),
    }
}

async fn backends_page(State(fe): State<Arc<Frontend>>, q: QueryResult) -> Response {
    let r = async {
        let p = params(&query_map(q)?, &[])?;
        Ok::<_, Failure>((p, data::backends(&fe).await?))
    }
    .await;
    match r {
        Ok((p, b)) => html_page(
            &fe,
            "Backends",
            "/console/backends",
            p.refresh,
            &html::backends(&b),
        ),
        Err(f) => html_failure(&fe, f),
    }
}

async fn tables_page(State(fe): State<Arc<Frontend>>, q: QueryResult) -> Response {
    let r = query_map(q)
        .and_then(|q| params(&q, &["db"]))
        .and_then(|p| Ok((data::tables(&fe, p.db.as_deref())?, p)));
    match r {
        Ok((t, p)) => html_page(
            &fe,
            "Tables",
            "/console/tables",
            p.refresh,
            &html::tables(&t),
        ),
        Err(f) => html_failure(&fe, f),
    }
}

async fn table_page(
    State(fe): State<Arc<Frontend>>,
    Path((db, table)): Path<(String, String)>,
    q: QueryResult,
) -> Response {
    let r = query_map(q)
        .and_then(|q| params(&q, &["limit", "only"]))
        .and_then(|p| {
            Ok((
                data::table_detail(&fe, &db, &table, p.limit, p.only_unhealthy)?,
                p,
            ))
        });
    match r {
        Ok((d, p)) => html_page(
            &fe,
            &format!("Table {db}.{table}"),
            "/console/tables",
            p.refresh,
            &html::table_detail(&d, p.limit, p.only_unhealthy),
        ),
        Err(f) => html_failure(&fe, f),
    }
}

async fn repair_page(State(fe): State<Arc<Frontend>>, q: QueryResult) -> Response {
    match query_map(q).and_then(|q| params(&q, &[])) {
        Ok(p) => {
            let r = data::repair(&fe).await;
            html_page(
                &fe,
                "Repair",
                "/console/repair",
                p.refresh,
                &html::repair(&r),
            )
        }
        Err(f) => html_failure(&fe, f),
    }
}

fn json_of<T: serde::Serialize>(r: Result<T, Failure>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(f) => json_failure(f),
    }
}

async fn overview_json(State(fe): State<Arc<Frontend>>, q: QueryResult) -> Response {
    let r = async {
        params(&query_map(q)?, &[])?;
        Ok(data::overview(&fe).await?)
    }
    .await;
    json_of(r)
}

async fn frontends_json(State(fe): State<Arc<Frontend>>, q: QueryResult) -> Response {
    let r = async {
        params(&query_map(q)?, &[])?;
        Ok(data::frontends(&fe).await?)
    }
    .await;
    json_of(r)
}

async fn backends_json(State(fe): State<Arc<Frontend>>, q: QueryResult) -> Response {
    let r = async {
        params(&query_map(q)?, &[])?;
        Ok(data::backends(&fe).await?)
    }
    .await;
    json_of(r)
}

async fn tables_json(State(fe): State<Arc<Frontend>>, q: QueryResult) -> Response {
    json_of(
        query_map(q)
            .and_then(|q| params(&q, &["db"]))
            .and_then(|p| Ok(data::tables(&fe, p.db.as_deref())?)),
    )
}

async fn table_json(
    State(fe): State<Arc<Frontend>>,
    Path((db, table)): Path<(String, String)>,
    q: QueryResult,
) -> Response {
    json_of(
        query_map(q)
            .and_then(|q| params(&q, &["limit", "only"]))
            .and_then(|p| {
                Ok(data::table_detail(
                    &fe,
                    &db,
                    &table,
                    p.limit,
                    p.only_unhealthy,
                )?)
            }),
    )
}

async fn repair_json(State(fe): State<Arc<Frontend>>, q: QueryResult) -> Response {
    match query_map(q).and_then(|q| params(&q, &[])) {
        Ok(_) => Json(data::repair(&fe).await).into_response(),
        Err(f) => json_failure(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn params_default_and_parse() {
        let p = params(&q(&[]), &[]).expect("empty is fine");
        assert_eq!(p.refresh, DEFAULT_REFRESH_S);
        assert_eq!(p.limit, DEFAULT_TABLET_LIMIT);
        let p = params(
            &q(&[("refresh", "0"), ("limit", "7"), ("only", "unhealthy")]),
            &["limit", "only"],
        )
        .expect("valid");
        assert_eq!(
            p,
            Params {
                refresh: 0,
                db: None,
                limit: 7,
                only_unhealthy: true
            }
        );
    }

    #[test]
    fn bad_params_are_400() {
        for (pairs, allowed) in [
            (vec![("refresh", "-1")], vec![]),
            (vec![("refresh", "abc")], vec![]),
            (vec![("refresh", "99999")], vec![]),
            (vec![("limit", "0")], vec!["limit"]),
            (vec![("limit", "1e9")], vec!["limit"]),
            (vec![("only", "healthy")], vec!["only"]),
            (vec![("db", "")], vec!["db"]),
            (vec![("limit", "5")], vec![]),
            (vec![("<script>", "1")], vec![]),
        ] {
            let e = params(&q(&pairs), &allowed).expect_err("must be refused");
            assert_eq!(e.http, StatusCode::BAD_REQUEST, "{pairs:?}");
        }
    }

    #[test]
    fn unknown_tables_are_404_and_no_leader_503() {
        let f = Failure::from(common::Error::new(common::StatusCode::TableNotFound, "x"));
        assert_eq!(f.http, StatusCode::NOT_FOUND);
        let f = Failure::from(common::Error::new(common::StatusCode::NoLeader, "x"));
        assert_eq!(f.http, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn the_router_builds() {
        // Route conflicts panic when the router is built; build it here rather than at start-up.
        let _ = router();
    }
}
