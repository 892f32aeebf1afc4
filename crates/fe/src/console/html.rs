//! Server-rendered HTML for the console. Every string that comes from the cluster goes through
//! [`esc`] (text and attribute values) or [`url_segment`] (inside an `href`).

use std::fmt::Write as _;

use super::data::BackendInfo;
use super::data::Backends;
use super::data::FrontendInfo;
use super::data::Frontends;
use super::data::Level;
use super::data::Overview;
use super::data::Repair;
use super::data::SelfRef;
use super::data::Source;
use super::data::TableDetail;
use super::data::TableInfo;
use super::data::Tables;
use super::data::TaskInfo;

/// Escapes text for an HTML text node or a quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes one URL path segment (everything but RFC 3986's unreserved characters).
pub fn url_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The nav entries: (path, label).
const NAV: &[(&str, &str)] = &[
    ("/console", "Overview"),
    ("/console/frontends", "Frontends"),
    ("/console/backends", "Backends"),
    ("/console/tables", "Tables"),
    ("/console/repair", "Repair"),
];

/// Re-fetches the page every `data-refresh` seconds and swaps its `<main>`; the page is
/// complete without it.
const REFRESH_JS: &str = r#"(function(){var b=document.body,s=+b.getAttribute('data-refresh');if(!(s>0))return;
setInterval(function(){if(document.hidden)return;fetch(location.href,{credentials:'same-origin',cache:'no-store'})
.then(function(r){return r.ok?r.text():null}).then(function(t){if(!t)return;
var d=new DOMParser().parseFromString(t,'text/html'),m=d.querySelector('main'),o=document.querySelector('main');
if(m&&o){o.replaceWith(m);}}).catch(function(){});},s*1000);})();"#;

/// A complete page. `active` is the nav path to highlight; `body` is already HTML.
pub fn page(title: &str, active: &str, me: &SelfRef, refresh: u32, body: &str) -> String {
    let mut nav = String::new();
    for (path, label) in NAV {
        let class = if *path == active {
            " class=\"active\""
        } else {
            ""
        };
        let _ = write!(nav, "<a href=\"{path}\"{class}>{label}</a>");
    }
    let role = if me.is_leader {
        "LEADER"
    } else {
        me.role.as_str()
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Tessera</title>\
         <link rel=\"stylesheet\" href=\"/console/console.css\"></head>\
         <body data-refresh=\"{refresh}\"><header><span class=\"brand\">Tessera</span>\
         <nav>{nav}</nav><span class=\"me\" title=\"the frontend serving this page\">\
         served by {name} ({role}) · journal {journal}</span></header>\
         <main><h1>{title}</h1>{body}\
         <p class=\"foot\">{refresh_note}</p></main>\
         <script>{REFRESH_JS}</script></body></html>\n",
        title = esc(title),
        name = esc(&me.name),
        role = esc(role),
        journal = me.journal_id,
        refresh_note = if refresh > 0 {
            format!(
                "Refreshes every {refresh} s (with JavaScript); <a href=\"?refresh=0\">stop</a>."
            )
        } else {
            "Auto-refresh off; <a href=\"?\">turn it on</a>.".to_string()
        },
    )
}

/// An error page body.
pub fn error_body(code: u16, message: &str) -> String {
    format!(
        "<div class=\"banner error\"><b>{code}</b> {}</div>\
         <p><a href=\"/console\">Back to the overview</a></p>",
        esc(message)
    )
}

/// `OK` / `WARN` / `ERROR` badge.
pub fn badge(level: Level) -> String {
    let class = match level {
        Level::Ok => "ok",
        Level::Warn => "warn",
        Level::Error => "err",
    };
    format!(
        "<span class=\"badge {class}\" data-level=\"{0}\">{0}</span>",
        level.as_str()
    )
}

/// A small coloured status word; `good` picks green, otherwise red (or amber when `warn`).
fn status(text: &str, good: bool, warn: bool) -> String {
    let class = if good {
        "ok"
    } else if warn {
        "warn"
    } else {
        "err"
    };
    format!("<span class=\"st {class}\">{}</span>", esc(text))
}

/// Text that must not wrap (timestamps, status names).
fn nw(text: &str) -> String {
    format!("<span class=\"nw\">{}</span>", esc(text))
}

fn yes_no(alive: bool) -> String {
    status(if alive { "alive" } else { "dead" }, alive, false)
}

fn source_note(source: &Source) -> String {
    match source {
        Source::Leader => "<p class=\"src\">As the leader sees it (this frontend).</p>".into(),
        Source::ForwardedToLeader => {
            "<p class=\"src\">As the leader sees it (asked by this frontend).</p>".into()
        }
        Source::LocalLeaderUnreachable(why) => format!(
            "<div class=\"banner warn\">The leader could not be asked ({}); showing this \
             frontend's replicated copy, which may be behind.</div>",
            esc(why)
        ),
        Source::LocalCatalog => {
            "<p class=\"src\">From this frontend's replicated catalog.</p>".into()
        }
    }
}

/// A `<table>` with a header row; each row's cells are HTML already.
fn table(class: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table class=\"{class}\"><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"empty\">none</td></tr>",
            headers.len()
        );
    }
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn table_href(db: &str, t: &str) -> String {
    format!("/console/tables/{}/{}", url_segment(db), url_segment(t))
}

fn card(label: &str, value: &str, class: &str) -> String {
    format!(
        "<div class=\"card {class}\"><div class=\"v\">{value}</div><div class=\"l\">{}</div></div>",
        esc(label)
    )
}

/// The overview page body.
pub fn overview(o: &Overview) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<section class=\"summary\"><div class=\"verdict\">Cluster health {}</div>",
        badge(o.level)
    );
    if o.reasons.is_empty() {
        out.push_str("<p>Every node is alive and every tablet is healthy.</p>");
    } else {
        out.push_str("<ul class=\"reasons\">");
        for r in &o.reasons {
            let _ = write!(out, "<li>{}</li>", esc(r));
        }
        out.push_str("</ul>");
    }
    out.push_str("</section><section class=\"cards\">");
    let h = &o.inputs;
    let leader = match &o.leader {
        Some(l) => esc(&l.addr),
        None => "none".into(),
    };
    out.push_str(&card(
        "leader",
        &leader,
        if o.leader.is_some() { "ok" } else { "err" },
    ));
    let fe_total = h.followers.0 + h.observers.0;
    let fe_alive = h.followers.1 + h.observers.1;
    let ratio_class = |alive: usize, total: usize| if alive == total { "ok" } else { "warn" };
    out.push_str(&card(
        "frontends alive",
        &format!("{fe_alive} / {fe_total}"),
        ratio_class(fe_alive, fe_total),
    ));
    out.push_str(&card(
        "backends alive",
        &format!("{} / {}", h.backends.1, h.backends.0),
        ratio_class(h.backends.1, h.backends.0),
    ));
    out.push_str(&card(
        "unhealthy tablets",
        &format!("{} / {}", h.unhealthy_tablets, h.tablets),
        if h.unhealthy_tablets == 0 {
            "ok"
        } else {
            "warn"
        },
    ));
    let (repairs, class) = match h.repairs {
        Some((p, r)) => (format!("{r} / {p}"), if p + r == 0 { "ok" } else { "warn" }),
        None => ("unknown".into(), "warn"),
    };
    out.push_str(&card("repairs running / queued", &repairs, class));
    out.push_str(&card(
        "tables / replicas",
        &format!("{} / {}", o.tables, o.replicas),
        "",
    ));
    out.push_str("</section>");
    out.push_str("<h2><a href=\"/console/frontends\">Frontends</a></h2>");
    out.push_str(&frontend_table(&o.frontends.frontends));
    out.push_str("<h2><a href=\"/console/backends\">Backends</a></h2>");
    out.push_str(&backend_table(&o.backends.backends));
    out
}

fn frontend_table(fes: &[FrontendInfo]) -> String {
    let rows: Vec<Vec<String>> = fes
        .iter()
        .map(|f| {
            let role_class = if f.is_leader { "role leader" } else { "role" };
            vec![
                format!(
                    "{}{}",
                    esc(&f.name),
                    if f.is_self {
                        " <span class=\"tag\">this</span>"
                    } else {
                        ""
                    }
                ),
                esc(&format!("{}:{}", f.host, f.edit_log_port)),
                format!("<span class=\"{role_class}\">{}</span>", esc(&f.role)),
                yes_no(f.alive),
                f.journal_id.to_string(),
                match f.lag {
                    Some(l) => lag(l),
                    None => "?".into(),
                },
                nw(&f.last_heartbeat),
                format!("<span class=\"msg\">{}</span>", esc(&f.err_msg)),
            ]
        })
        .collect();
    table(
        "frontends",
        &[
            "Name",
            "Host:edit_log_port",
            "Role",
            "Alive",
            "Journal id",
            "Lag",
            "Last heartbeat",
            "Message",
        ],
        &rows,
    )
}

/// A replay lag: green within the leader's catch-up rule (100 entries, the lag under which a
/// new follower is promoted), amber within 10 000, red beyond. Heartbeats are journaled, so a
/// healthy follower shows a lag of a few entries.
fn lag(l: i64) -> String {
    status(&l.to_string(), l < 100, l < 10_000)
}

/// The frontends page body.
pub fn frontends(f: &Frontends) -> String {
    let mut out = source_note(&f.source);
    out.push_str(&frontend_table(&f.frontends));
    out.push_str(
        "<p class=\"note\">Lag: journal entries this frontend has yet to replay, against the \
         leader's replayed journal id as of the last heartbeat.</p>",
    );
    out
}

fn backend_table(bes: &[BackendInfo]) -> String {
    let rows: Vec<Vec<String>> = bes
        .iter()
        .map(|b| {
            vec![
                b.id.to_string(),
                esc(&format!("{}:{}", b.host, b.heartbeat_port)),
                yes_no(b.alive),
                nw(&b.last_heartbeat),
                b.tablets.to_string(),
                format!(
                    "{} <span class=\"dim\">· disk {} of {}</span>",
                    esc(&b.disk_used),
                    esc(&b.disk_used_pct),
                    esc(&b.disk_total)
                ),
                if b.decommissioned {
                    status("yes", false, true)
                } else {
                    "no".into()
                },
                format!("<span class=\"msg\">{}</span>", esc(&b.err_msg)),
            ]
        })
        .collect();
    table(
        "backends",
        &[
            "Id",
            "Host:heartbeat_port",
            "Alive",
            "Last heartbeat",
            "Tablets",
            "Data · disk used",
            "Decommissioned",
            "Message",
        ],
        &rows,
    )
}

/// The backends page body.
pub fn backends(b: &Backends) -> String {
    let mut out = source_note(&b.source);
    out.push_str(&backend_table(&b.backends));
    out
}

fn health_cell(t: &TableInfo) -> String {
    let c = &t.counts;
    if c.unavailable > 0 {
        status(&format!("{} unavailable", c.unavailable), false, false)
    } else if c.unhealthy > 0 {
        status(&format!("{} unhealthy", c.unhealthy), false, true)
    } else {
        status("healthy", true, false)
    }
}

fn versions(t: &TableInfo) -> String {
    let c = &t.counts;
    if c.min_visible_version == c.max_visible_version {
        c.max_visible_version.to_string()
    } else {
        format!("{}–{}", c.min_visible_version, c.max_visible_version)
    }
}

/// The tables page body.
pub fn tables(t: &Tables) -> String {
    let mut out = source_note(&t.source);
    let rows: Vec<Vec<String>> = t
        .tables
        .iter()
        .map(|t| {
            vec![
                esc(&t.db),
                format!(
                    "<a class=\"tbl\" href=\"{}\">{}</a>",
                    esc(&table_href(&t.db, &t.table)),
                    esc(&t.table)
                ),
                t.counts.partitions.to_string(),
                t.counts.tablets.to_string(),
                format!(
                    "{} <span class=\"dim\">(×{})</span>",
                    t.counts.replicas, t.replication_num
                ),
                versions(t),
                t.healthy().to_string(),
                health_cell(t),
                t.counts.cloning.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        "tables",
        &[
            "Database",
            "Table",
            "Partitions",
            "Tablets",
            "Replicas",
            "Visible version",
            "Healthy",
            "Health",
            "Cloning",
        ],
        &rows,
    ));
    out
}

fn replica_status(s: &str) -> String {
    status(s, s == "OK", s == "VERSION_ERROR")
}

/// The drill-down page body of one table.
pub fn table_detail(d: &TableDetail, limit: usize, only_unhealthy: bool) -> String {
    let t = &d.table;
    let mut out = format!(
        "<p class=\"src\">From this frontend's replicated catalog. <a href=\"/console/tables\">\
         All tables</a></p><section class=\"cards\">{}{}{}{}</section>",
        card("tablets", &t.counts.tablets.to_string(), ""),
        card(
            "replicas",
            &format!("{} (×{})", t.counts.replicas, t.replication_num),
            ""
        ),
        card(
            "healthy tablets",
            &format!("{} / {}", t.healthy(), t.counts.tablets),
            if t.counts.unhealthy == 0 {
                "ok"
            } else {
                "warn"
            }
        ),
        card("visible version", &versions(t), ""),
    );
    out.push_str("<h2>Partitions</h2>");
    let parts: Vec<Vec<String>> = d
        .partitions
        .iter()
        .map(|p| {
            vec![
                esc(&p.name),
                p.visible_version.to_string(),
                nw(&p.visible_version_time),
                p.buckets.to_string(),
                p.replication_num.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        "partitions",
        &[
            "Partition",
            "Visible version",
            "Visible since",
            "Buckets",
            "replication_num",
        ],
        &parts,
    ));
    let _ = write!(
        out,
        "<h2>Tablets × replicas</h2><p class=\"note\">Showing {} of {} {}tablets. {}</p>",
        d.tablets.len(),
        d.tablets_matched,
        if only_unhealthy { "unhealthy " } else { "" },
        if only_unhealthy {
            "<a href=\"?\">Show all</a>".to_string()
        } else {
            "<a href=\"?only=unhealthy\">Only unhealthy</a>".to_string()
        }
    );
    if d.tablets_matched > d.tablets.len() {
        let _ = write!(
            out,
            "<p class=\"note\">Cut at {limit}; add <code>?limit=N</code> for more.</p>"
        );
    }
    let mut rows = Vec::new();
    for tab in &d.tablets {
        for (i, r) in tab.replicas.iter().enumerate() {
            let first = i == 0;
            rows.push(vec![
                if first {
                    tab.tablet_id.to_string()
                } else {
                    String::new()
                },
                if first {
                    esc(&tab.partition)
                } else {
                    String::new()
                },
                if first {
                    status(&tab.health, tab.healthy, false)
                } else {
                    String::new()
                },
                if r.replica_id < 0 {
                    "—".into()
                } else {
                    r.replica_id.to_string()
                },
                if r.backend_id < 0 {
                    "—".into()
                } else {
                    format!(
                        "{} <span class=\"dim\">{}</span>",
                        r.backend_id,
                        esc(&r.backend_host)
                    )
                },
                if r.version < 0 {
                    "—".into()
                } else {
                    format!("{} / {}", r.version, tab.visible_version)
                },
                esc(&r.state),
                replica_status(&r.status),
                esc(&r.data_size),
                r.row_count.to_string(),
            ]);
        }
    }
    out.push_str(&table(
        "tablets",
        &[
            "Tablet",
            "Partition",
            "Health",
            "Replica",
            "Backend",
            "Version / visible",
            "State",
            "Status",
            "Size",
            "Rows",
        ],
        &rows,
    ));
    out
}

fn task_state(s: &str) -> String {
    status(
        s,
        s == "FINISHED",
        matches!(s, "PENDING" | "RUNNING" | "SCHEDULED"),
    )
}

fn progress_bar(t: &TaskInfo) -> String {
    let pct = if t.bytes_total > 0 {
        (t.bytes_copied.min(t.bytes_total) as f64 * 100.0 / t.bytes_total as f64).round() as i64
    } else if t.state == "FINISHED" {
        100
    } else {
        0
    };
    format!(
        "<div class=\"bar\" title=\"{copied} of {total} bytes\"><span style=\"width:{pct}%\">\
         </span></div> {text}",
        copied = t.bytes_copied,
        total = t.bytes_total,
        text = esc(&t.progress),
    )
}

fn tasks_table(class: &str, tasks: &[TaskInfo], running: bool) -> String {
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            let mut row = vec![
                t.tablet_id.to_string(),
                format!(
                    "<a href=\"{}\">{}.{}</a> <span class=\"dim\">{}</span>",
                    esc(&table_href(&t.db, &t.table)),
                    esc(&t.db),
                    esc(&t.table),
                    esc(&t.partition)
                ),
                nw(&t.status),
                task_state(&t.state),
                format!(
                    "{} → {}",
                    if t.src_be < 0 {
                        "?".to_string()
                    } else {
                        t.src_be.to_string()
                    },
                    if t.dest_be < 0 {
                        "?".to_string()
                    } else {
                        t.dest_be.to_string()
                    }
                ),
                esc(&t.clone_type),
            ];
            if running {
                row.push(progress_bar(t));
                row.push(esc(&t.rate_mb_per_sec));
                row.push(esc(&t.eta_sec));
            } else {
                row.push(nw(&t.created));
                row.push(nw(&t.finished));
            }
            let class = if t.state == "FINISHED" { "dim" } else { "msg" };
            row.push(format!(
                "<span class=\"{class}\">{}</span>",
                esc(&t.err_msg)
            ));
            row
        })
        .collect();
    let mut headers = vec![
        "Tablet",
        "Table",
        "Health",
        "State",
        "Src → dest BE",
        "Clone",
    ];
    if running {
        headers.extend(["Progress", "MB/s", "ETA s"]);
    } else {
        headers.extend(["Queued", "Finished"]);
    }
    headers.push("Message");
    table(class, &headers, &rows)
}

/// The repair page body.
pub fn repair(r: &Repair) -> String {
    let mut out = String::new();
    if let Some(e) = &r.error {
        let _ = write!(
            out,
            "<div class=\"banner warn\">The repair queues live in the leader's memory and could \
             not be fetched from it: {}.",
            esc(e)
        );
        if let Some(l) = &r.leader {
            let _ = write!(
                out,
                " See the leader's console at <a href=\"{0}/repair\">{0}</a>.",
                esc(&l.console_url)
            );
        }
        out.push_str("</div>");
        return out;
    }
    out.push_str(&source_note(&r.source));
    let item = |k: &str| {
        r.summary
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| esc(v))
            .unwrap_or_else(|| "?".into())
    };
    let _ = write!(
        out,
        "<section class=\"cards\">{}{}{}{}{}</section>",
        card("queued", &item("pending_tablets"), ""),
        card("running clones", &item("running_tablets"), ""),
        card(
            "copied / to copy (bytes)",
            &format!(
                "{} / {}",
                item("running_bytes_copied"),
                item("running_bytes_total")
            ),
            ""
        ),
        card(
            "finished / failed (total)",
            &format!("{} / {}", item("tasks_finished"), item("tasks_failed")),
            ""
        ),
        card("last check", &item("last_check_time"), ""),
    );
    out.push_str("<h2>Running clones</h2>");
    out.push_str(&tasks_table("running", &r.running, true));
    out.push_str("<h2>Queue</h2>");
    out.push_str(&tasks_table("pending", &r.pending, false));
    out.push_str("<h2>History</h2>");
    out.push_str(&tasks_table("history", &r.history, false));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("plain"), "plain");
        assert_eq!(
            esc("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("a & b \"c\""), "a &amp; b &quot;c&quot;");
        // Already-escaped text is escaped again (shown literally, never interpreted).
        assert_eq!(esc("&lt;"), "&amp;lt;");
        assert_eq!(esc("表<"), "表&lt;");
    }

    #[test]
    fn url_segments_encode_everything_but_unreserved() {
        assert_eq!(url_segment("t_1-a.b~"), "t_1-a.b~");
        assert_eq!(url_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(url_segment("<x>\"'"), "%3Cx%3E%22%27");
        assert_eq!(url_segment("é"), "%C3%A9");
        assert_eq!(url_segment(".."), "..");
    }

    #[test]
    fn a_hostile_table_name_is_text_in_the_page() {
        let t = Tables {
            source: Source::LocalCatalog,
            tables: vec![TableInfo {
                db: "d\"b".into(),
                table: "<img src=x onerror=alert(1)>".into(),
                replication_num: 3,
                counts: Default::default(),
            }],
        };
        let html = tables(&t);
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(
            html.contains(
                "href=\"/console/tables/d%22b/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E\""
            ),
            "{html}"
        );
    }

    #[test]
    fn the_page_escapes_its_title_and_marks_the_active_tab() {
        let me = SelfRef {
            name: "fe<1>".into(),
            addr: "127.0.0.1:9010".into(),
            role: "FOLLOWER".into(),
            is_leader: true,
            journal_id: 7,
        };
        let html = page("T<b>", "/console/tables", &me, 5, "<p>x</p>");
        assert!(html.contains("<title>T&lt;b&gt; · Tessera</title>"));
        assert!(html.contains("served by fe&lt;1&gt; (LEADER)"));
        assert!(html.contains("<a href=\"/console/tables\" class=\"active\">Tables</a>"));
        assert!(html.contains("data-refresh=\"5\""));
        assert!(!html.contains("fe<1>"));
    }

    #[test]
    fn badges_carry_their_level() {
        assert!(badge(Level::Ok).contains("class=\"badge ok\""));
        assert!(badge(Level::Warn).contains(">WARN<"));
        assert!(badge(Level::Error).contains("data-level=\"ERROR\""));
    }

    #[test]
    fn the_repair_page_without_the_leader_links_to_it() {
        let r = Repair {
            source: Source::LocalLeaderUnreachable("timeout".into()),
            error: Some("timeout <x>".into()),
            leader: Some(super::super::data::LeaderRef {
                name: "n".into(),
                addr: "10.0.0.1:9010".into(),
                console_url: "http://10.0.0.1:8030/console".into(),
            }),
            summary: vec![],
            pending: vec![],
            running: vec![],
            history: vec![],
        };
        let html = repair(&r);
        assert!(html.contains("timeout &lt;x&gt;"));
        assert!(html.contains("href=\"http://10.0.0.1:8030/console/repair\""));
    }
}
