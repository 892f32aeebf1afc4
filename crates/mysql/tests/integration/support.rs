//! A small in-memory "database" behind the real `serve_connection`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use tessera_mysql::{
    Column, ColumnType, ErrorInfo, Handler, HandshakeInfo, OkInfo, QueryOutcome, ResultSet,
    ServerConfig, Value, native_password_hash, serve_connection, verify_native_password,
};
use tokio::net::TcpListener;

/// Users: `root` with an empty password, `u1` with password `p1`.
pub struct TestHandler {
    users: Vec<(&'static str, Option<[u8; 20]>)>,
    /// Number of sessions closed so far.
    pub closed: AtomicUsize,
    /// Number of `reset_connection` calls.
    pub resets: AtomicUsize,
}

pub struct Session {
    db: Option<String>,
    /// The cipher when the client logged in over TLS.
    cipher: Option<String>,
}

impl TestHandler {
    pub fn new() -> Self {
        Self {
            users: vec![("root", None), ("u1", native_password_hash("p1"))],
            closed: AtomicUsize::new(0),
            resets: AtomicUsize::new(0),
        }
    }
}

pub fn datetime(year: u16, month: u8, day: u8, hms: (u8, u8, u8), micros: u32) -> Value {
    Value::DateTime {
        year,
        month,
        day,
        hour: hms.0,
        minute: hms.1,
        second: hms.2,
        micros,
    }
}

/// The multi-row table `t`, with several column types.
pub fn table_t() -> ResultSet {
    let mut columns = vec![
        Column::new("id", ColumnType::LongLong),
        Column::new("name", ColumnType::VarString),
        Column::new("price", ColumnType::Double),
        Column::new("day", ColumnType::Date),
        Column::new("ts", ColumnType::DateTime),
        Column::new("note", ColumnType::VarString),
        Column::new("amount", ColumnType::NewDecimal),
        Column::new("small", ColumnType::Tiny),
        Column::new("ratio", ColumnType::Float),
    ];
    for c in &mut columns {
        c.table = "t".into();
        c.schema = "db1".into();
    }
    let rows = vec![
        vec![
            Value::Int(1),
            Value::Text("alice".into()),
            Value::Double(1.5),
            Value::Date {
                year: 2024,
                month: 1,
                day: 2,
            },
            datetime(2024, 1, 2, (3, 4, 5), 0),
            Value::Null,
            Value::Decimal("10.50".into()),
            Value::Int(-7),
            Value::Float(0.25),
        ],
        vec![
            Value::Int(2),
            Value::Text("bob".into()),
            Value::Double(0.1),
            Value::Date {
                year: 1999,
                month: 12,
                day: 31,
            },
            datetime(1999, 12, 31, (23, 59, 59), 500_000),
            Value::Text("x".into()),
            Value::Decimal("-3.00".into()),
            Value::Int(127),
            Value::Float(-1.5),
        ],
        vec![
            Value::Int(3),
            Value::Text("Zoë".into()),
            Value::Double(1e300),
            Value::Date {
                year: 2000,
                month: 2,
                day: 29,
            },
            datetime(2000, 2, 29, (0, 0, 0), 0),
            Value::Text("it's".into()),
            Value::Decimal("0".into()),
            Value::Null,
            Value::Float(3.0),
        ],
    ];
    ResultSet { columns, rows }
}

fn single(name: &str, column_type: ColumnType, value: Value) -> QueryOutcome {
    QueryOutcome::ResultSet(ResultSet {
        columns: vec![Column::new(name, column_type)],
        rows: vec![vec![value]],
    })
}

fn run_one(session: &Session, stmt: &str) -> Result<QueryOutcome, ErrorInfo> {
    let lower = stmt.to_ascii_lowercase();
    if lower == "select 1" || lower == "select 2" || lower == "select 3" {
        let n = i64::from(lower.as_bytes()[7] - b'0');
        return Ok(single(&n.to_string(), ColumnType::LongLong, Value::Int(n)));
    }
    if lower.starts_with("select * from t") {
        return Ok(QueryOutcome::ResultSet(table_t()));
    }
    if lower == "select cipher()" {
        let cipher = session.cipher.clone().map_or(Value::Null, Value::Text);
        return Ok(single("cipher()", ColumnType::VarString, cipher));
    }
    if lower == "select database()" {
        let db = session.db.clone().map_or(Value::Null, Value::Text);
        return Ok(single("database()", ColumnType::VarString, db));
    }
    if stmt.starts_with("echo ") {
        return Ok(single(
            "sql",
            ColumnType::VarString,
            Value::Text(stmt.to_owned()),
        ));
    }
    if lower.starts_with("set ") {
        // Clients configure sessions on connect (PyMySQL: SET AUTOCOMMIT).
        return Ok(QueryOutcome::Ok(OkInfo::default()));
    }
    if lower.starts_with("insert") {
        return Ok(QueryOutcome::Ok(OkInfo {
            affected_rows: 3,
            last_insert_id: 7,
            warnings: 0,
            info: "Records: 3  Duplicates: 0  Warnings: 0".into(),
        }));
    }
    Err(ErrorInfo::new(
        1064,
        "42000",
        format!("You have an error in your SQL syntax near '{stmt}'"),
    ))
}

impl Handler for TestHandler {
    type Session = Session;

    async fn authenticate(&self, info: HandshakeInfo<'_>) -> Result<Session, ErrorInfo> {
        let known = self.users.iter().find(|(u, _)| *u == info.user);
        let ok = known.is_some_and(|(_, stored)| {
            verify_native_password(info.scramble, info.auth_response, stored.as_ref())
        });
        if !ok {
            return Err(ErrorInfo::new(
                1045,
                "28000",
                format!(
                    "Access denied for user '{}'@'{}' (using password: {})",
                    info.user,
                    info.peer.ip(),
                    if info.auth_response.is_empty() {
                        "NO"
                    } else {
                        "YES"
                    }
                ),
            ));
        }
        if let Some(db) = info.database
            && db == "nodb"
        {
            return Err(ErrorInfo::new(1049, "42000", "Unknown database 'nodb'"));
        }
        Ok(Session {
            db: info.database.map(str::to_owned),
            cipher: info.tls.map(|t| format!("{} {}", t.version, t.cipher)),
        })
    }

    async fn query(
        &self,
        session: &mut Session,
        sql: &str,
    ) -> Vec<Result<QueryOutcome, ErrorInfo>> {
        let mut out = Vec::new();
        // Statements here never contain quoted semicolons, except `echo`
        // which takes the whole text.
        let statements: Vec<&str> = if sql.trim_start().starts_with("echo ") {
            vec![sql.trim()]
        } else {
            sql.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        };
        for stmt in statements {
            let r = run_one(session, stmt);
            let failed = r.is_err();
            out.push(r);
            if failed {
                break;
            }
        }
        out
    }

    async fn init_db(&self, session: &mut Session, db: &str) -> Result<(), ErrorInfo> {
        if db == "nodb" {
            return Err(ErrorInfo::new(1049, "42000", "Unknown database 'nodb'"));
        }
        session.db = Some(db.to_owned());
        Ok(())
    }

    async fn reset_connection(&self, _session: &mut Session) {
        self.resets.fetch_add(1, Ordering::SeqCst);
    }

    async fn close(&self, _session: Session) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

/// A running test server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub handler: Arc<TestHandler>,
}

/// Starts an accept loop on an ephemeral loopback port.
pub async fn start(config: ServerConfig) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let handler = Arc::new(TestHandler::new());
    let config = Arc::new(config);
    let next_id = Arc::new(AtomicU32::new(1));
    let h = handler.clone();
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let h = h.clone();
            let config = config.clone();
            let id = next_id.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let _ = serve_connection(h, stream, id, peer, &config).await;
            });
        }
    });
    TestServer { addr, handler }
}

/// Waits (bounded) until `f` holds.
pub async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Bounds every test so a protocol bug hangs nothing.
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test timed out")
}

/// The smallest possible handler, for the compile-time Send check.
pub struct MinimalHandler;

impl Handler for MinimalHandler {
    type Session = ();

    async fn authenticate(&self, _info: HandshakeInfo<'_>) -> Result<(), ErrorInfo> {
        Ok(())
    }

    async fn query(&self, _session: &mut (), _sql: &str) -> Vec<Result<QueryOutcome, ErrorInfo>> {
        Vec::new()
    }

    async fn init_db(&self, _session: &mut (), _db: &str) -> Result<(), ErrorInfo> {
        Ok(())
    }

    async fn close(&self, _session: ()) {}
}
