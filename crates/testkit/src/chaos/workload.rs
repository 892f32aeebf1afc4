//! The clients: metadata operations (DDL and `ADMIN SET FRONTEND CONFIG`) through every FE,
//! Stream Loads with unique labels retried after ambiguous failures, and readers checking
//! whole-load visibility and monotonic reads. Every client runs on the workload's tokio
//! runtime, in the clients' network namespace, and records what it saw.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use mysql::client::Client;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::check::LoadRecord;
use super::check::MetaEvent;
use super::check::MetaOp;
use super::check::MetaRet;
use super::check::ReadChecker;

/// Rows in every load.
pub const ROWS_PER_LOAD: i64 = 20;
/// The database and table the loads go to.
pub const LOAD_DB: &str = "chaos";
/// The table.
pub const LOAD_TABLE: &str = "loads";
/// How long one statement may take before its outcome counts as unknown.
const OP_TIMEOUT: Duration = Duration::from_secs(6);
/// Most operations on one metadata key (keeps each key's linearizability search small).
const OPS_PER_KEY: u64 = 40;

/// The config keys used as registers: mutable, and harmless at the values written (all at or
/// above their defaults).
pub const REGISTER_KEYS: [&str; 3] = [
    "label_keep_max_num",
    "tablet_sched_history_num",
    "catalog_trash_expire_second",
];

/// Everything the clients share.
pub struct Shared {
    /// Set to stop every client.
    pub stop: AtomicBool,
    /// The frontends' addresses (index 0 is frontend 1).
    pub fes: Vec<String>,
    /// Metadata operations.
    pub meta: Mutex<Vec<MetaEvent>>,
    /// Loads.
    pub loads: Mutex<Vec<LoadRecord>>,
    /// Anomalies found while running (reads).
    pub anomalies: Mutex<Vec<String>>,
    /// Operations attempted, all kinds.
    pub ops: AtomicU64,
    /// The next client process id (a process ends after an unknown outcome).
    next_process: AtomicU64,
    /// The next load label.
    next_label: AtomicU64,
    /// Database keys: the current one of each slot and the operations it has had.
    db_keys: Mutex<Vec<(String, u64)>>,
    next_db: AtomicU64,
    /// Register keys: operations each has had, and the next value to write.
    register_ops: Mutex<BTreeMap<String, u64>>,
    next_value: AtomicU64,
    /// Successful reads (for the report).
    pub reads: AtomicU64,
    /// The run's seed (labels carry it).
    pub seed: u64,
    /// Labels acknowledged as visible, with when (for linearizable readers).
    visible: Mutex<BTreeMap<i64, Instant>>,
}

impl Shared {
    /// A new shared state for frontends at `fes`.
    pub fn new(seed: u64, fes: Vec<String>) -> Arc<Shared> {
        Arc::new(Shared {
            stop: AtomicBool::new(false),
            fes,
            meta: Mutex::new(Vec::new()),
            loads: Mutex::new(Vec::new()),
            anomalies: Mutex::new(Vec::new()),
            ops: AtomicU64::new(0),
            next_process: AtomicU64::new(1),
            next_label: AtomicU64::new(1),
            db_keys: Mutex::new(Vec::new()),
            next_db: AtomicU64::new(1),
            register_ops: Mutex::new(BTreeMap::new()),
            next_value: AtomicU64::new(1),
            reads: AtomicU64::new(0),
            seed,
            visible: Mutex::new(BTreeMap::new()),
        })
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn process(&self) -> u64 {
        self.next_process.fetch_add(1, Ordering::Relaxed)
    }

    fn anomaly(&self, a: String) {
        lock(&self.anomalies).push(a);
    }

    /// Picks a key and operation: a database slot (rotating to a fresh database after
    /// [`OPS_PER_KEY`] operations) or a register.
    fn next_op(&self, rng: &mut StdRng) -> Option<(String, MetaOp)> {
        if rng.random_bool(0.5) {
            let mut regs = lock(&self.register_ops);
            let key = REGISTER_KEYS[rng.random_range(0..REGISTER_KEYS.len())];
            let n = regs.entry(key.to_string()).or_insert(0);
            if *n < OPS_PER_KEY {
                *n += 1;
                let op = if rng.random_bool(0.5) {
                    MetaOp::Read
                } else {
                    let v = self.next_value.fetch_add(1, Ordering::Relaxed);
                    MetaOp::Write(register_value(key, v))
                };
                return Some((key.to_string(), op));
            }
        }
        let mut keys = lock(&self.db_keys);
        if keys.len() < 3 {
            let n = self.next_db.fetch_add(1, Ordering::Relaxed);
            keys.push((format!("chaos_s{}_d{n}", self.seed), 0));
        }
        let slot = rng.random_range(0..keys.len());
        if keys[slot].1 >= OPS_PER_KEY {
            let n = self.next_db.fetch_add(1, Ordering::Relaxed);
            keys[slot] = (format!("chaos_s{}_d{n}", self.seed), 0);
        }
        keys[slot].1 += 1;
        let op = match rng.random_range(0..3) {
            0 => MetaOp::Create,
            1 => MetaOp::Drop,
            _ => MetaOp::Exists,
        };
        Some((keys[slot].0.clone(), op))
    }
}

/// The value written the `n`th time (above every default, so the cluster is not slowed).
pub fn register_value(key: &str, n: u64) -> String {
    match key {
        "catalog_trash_expire_second" => (86_400 + n).to_string(),
        _ => (1000 + n).to_string(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn connect(shared: &Shared, fe: usize, linearizable: bool) -> Option<Client> {
    let addr = format!("{}:9030", shared.fes[fe]);
    let mut c = Client::connect_timeout(&addr, "root", "", None, Duration::from_secs(3))
        .await
        .ok()?;
    if linearizable {
        tokio::time::timeout(OP_TIMEOUT, c.query("SET read_consistency = 'linearizable'"))
            .await
            .ok()?
            .ok()?;
    }
    Some(c)
}

/// A metadata client: one connection at a time to a random FE, linearizable reads.
pub async fn meta_client(shared: Arc<Shared>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut process = shared.process();
    let mut conn: Option<(usize, Client)> = None;
    while !shared.stopped() {
        if conn.is_none() {
            let fe = rng.random_range(0..shared.fes.len());
            match connect(&shared, fe, true).await {
                Some(c) => conn = Some((fe, c)),
                None => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        let Some((key, op)) = shared.next_op(&mut rng) else {
            break;
        };
        let Some((fe, client)) = conn.as_mut() else {
            continue;
        };
        let sql = match &op {
            MetaOp::Write(v) => format!("ADMIN SET FRONTEND CONFIG (\"{key}\" = \"{v}\")"),
            MetaOp::Read => format!("ADMIN SHOW FRONTEND CONFIG LIKE '{key}'"),
            MetaOp::Create => format!("CREATE DATABASE {key}"),
            MetaOp::Drop => format!("DROP DATABASE {key}"),
            MetaOp::Exists => "SHOW DATABASES".to_string(),
        };
        shared.ops.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let answer = tokio::time::timeout(OP_TIMEOUT, client.query(&sql)).await;
        let end = Instant::now();
        let ret: Option<MetaRet> = match (&op, answer) {
            (_, Err(_)) => None,
            (MetaOp::Write(_), Ok(Ok(_))) => Some(MetaRet::Written),
            (MetaOp::Read, Ok(Ok(r))) => {
                let v = r
                    .rows
                    .iter()
                    .find(|row| row.first().and_then(|c| c.as_deref()) == Some(key.as_str()))
                    .and_then(|row| row.get(2).cloned().flatten());
                match v {
                    Some(v) => Some(MetaRet::Value(v)),
                    None => {
                        shared.anomaly(format!("ADMIN SHOW FRONTEND CONFIG lost key {key}"));
                        continue;
                    }
                }
            }
            (MetaOp::Create, Ok(Ok(_))) => Some(MetaRet::Created),
            (MetaOp::Create, Ok(Err(e))) if e.code == 1007 => Some(MetaRet::AlreadyExists),
            (MetaOp::Drop, Ok(Ok(_))) => Some(MetaRet::Dropped),
            (MetaOp::Drop, Ok(Err(e))) if e.code == 1049 => Some(MetaRet::NotFound),
            (MetaOp::Exists, Ok(Ok(r))) => {
                Some(MetaRet::Present(r.rows.iter().any(|row| {
                    row.first().and_then(|c| c.as_deref()) == Some(key.as_str())
                })))
            }
            (_, Ok(Err(e))) => {
                // A failed read has no effect: leave it out. A failed write may have been
                // applied (e.g. forwarded, then the connection to the leader broke).
                if matches!(op, MetaOp::Read | MetaOp::Exists) {
                    if e.code == 0 {
                        conn = None;
                    }
                    // No leader to read from, say: do not hammer the frontend meanwhile.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                None
            }
        };
        let unknown = ret.is_none();
        lock(&shared.meta).push(MetaEvent {
            process,
            key,
            op,
            ret,
            start,
            end,
            fe: (*fe + 1) as u8,
        });
        if unknown {
            // This process's operation stays in flight forever; carry on as a new one.
            process = shared.process();
            conn = None;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(10..60))).await;
    }
}

/// What one Stream Load attempt told us.
enum Attempt {
    /// Committed (visible or about to be).
    Acked { visible: bool },
    /// Definitely not loaded (the transaction was aborted or never began).
    Failed,
    /// Unknown: it may have committed.
    Unknown,
}

async fn stream_load(shared: &Shared, fe: usize, label: &str, body: &[u8]) -> (Attempt, String) {
    let dir = std::env::temp_dir().join(format!("tessera-chaos-{}", std::process::id()));
    let _ = tokio::fs::create_dir_all(&dir).await;
    let file = dir.join(format!("{label}.csv"));
    if tokio::fs::write(&file, body).await.is_err() {
        return (Attempt::Unknown, "cannot write the load file".into());
    }
    let url = format!(
        "http://{}:8030/api/{LOAD_DB}/{LOAD_TABLE}/_stream_load",
        shared.fes[fe]
    );
    let out = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "15",
            "--location-trusted",
            "-u",
            "root:",
            "-XPUT",
            "-H",
            &format!("label:{label}"),
            "-H",
            "column_separator:,",
            "-T",
        ])
        .arg(&file)
        .arg(&url)
        .kill_on_drop(true)
        .output()
        .await;
    let _ = tokio::fs::remove_file(&file).await;
    let Ok(out) = out else {
        return (Attempt::Unknown, "cannot run curl".into());
    };
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return (Attempt::Unknown, format!("curl: {err} {}", text.trim()));
    };
    let status = json["Status"].as_str().unwrap_or("").to_string();
    let msg = json["Message"].as_str().unwrap_or("").to_string();
    let summary = format!("{status}: {msg}");
    let attempt = match status.as_str() {
        "Success" => Attempt::Acked { visible: true },
        "Publish Timeout" => Attempt::Acked { visible: false },
        // FINISHED: committed, perhaps not yet visible (StarRocks's meaning).
        "Label Already Exists" => match json["ExistingJobStatus"].as_str().unwrap_or("") {
            "FINISHED" => Attempt::Acked { visible: false },
            _ => Attempt::Unknown,
        },
        // A failed load was aborted (or never began), unless Tessera says its outcome is
        // unknown.
        "Fail" if !msg.contains("outcome is unknown") => Attempt::Failed,
        _ => Attempt::Unknown,
    };
    (attempt, summary)
}

/// A loader: unique labels of [`ROWS_PER_LOAD`] rows each, each retried with the same label
/// (on random FEs) until its outcome is known or the run is over.
pub async fn load_client(shared: Arc<Shared>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !shared.stopped() {
        let id = shared.next_label.fetch_add(1, Ordering::Relaxed) as i64;
        let label = format!("chaos_s{}_l{id}", shared.seed);
        let mut body = String::new();
        for row in 0..ROWS_PER_LOAD {
            body.push_str(&format!("{id},{row},{}\n", id * 1000 + row));
        }
        let mut record = LoadRecord {
            label_id: id,
            acked: false,
            visible_at: None,
            attempts: 0,
            last: String::new(),
        };
        // Retry until the outcome is known; after the run is over, a few more tries only.
        let mut after_stop = 0;
        loop {
            record.attempts += 1;
            shared.ops.fetch_add(1, Ordering::Relaxed);
            let fe = rng.random_range(0..shared.fes.len());
            let (attempt, summary) = stream_load(&shared, fe, &label, body.as_bytes()).await;
            record.last = summary;
            match attempt {
                Attempt::Acked { visible } => {
                    record.acked = true;
                    if visible {
                        let now = Instant::now();
                        record.visible_at = Some(now);
                        lock(&shared.visible).insert(id, now);
                    }
                    break;
                }
                Attempt::Failed => break,
                Attempt::Unknown => {}
            }
            if shared.stopped() {
                after_stop += 1;
                if after_stop >= 3 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(200..800))).await;
        }
        lock(&shared.loads).push(record);
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..250))).await;
    }
}

/// A reader: repeatedly reads the rows per label on one session, checking that every load
/// is whole and that nothing visible disappears; a linearizable reader also checks that every
/// load acknowledged as visible before the read began is there.
pub async fn reader(shared: Arc<Shared>, seed: u64, linearizable: bool) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut conn: Option<Client> = None;
    let mut checker = ReadChecker::default();
    let sql = format!("SELECT label_id, count(*) FROM {LOAD_DB}.{LOAD_TABLE} GROUP BY label_id");
    while !shared.stopped() {
        if conn.is_none() {
            let fe = rng.random_range(0..shared.fes.len());
            conn = connect(&shared, fe, linearizable).await;
            checker.reset();
            if conn.is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        }
        let Some(client) = conn.as_mut() else {
            continue;
        };
        let must_see: Vec<i64> = if linearizable {
            lock(&shared.visible).keys().copied().collect()
        } else {
            Vec::new()
        };
        shared.ops.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(OP_TIMEOUT, client.query(&sql)).await {
            Ok(Ok(r)) => {
                shared.reads.fetch_add(1, Ordering::Relaxed);
                let mut read = BTreeMap::new();
                for row in &r.rows {
                    let id = row.first().cloned().flatten().and_then(|v| v.parse().ok());
                    let n = row.get(1).cloned().flatten().and_then(|v| v.parse().ok());
                    if let (Some(id), Some(n)) = (id, n) {
                        read.insert(id, n);
                    }
                }
                for a in checker.observe(&read, ROWS_PER_LOAD) {
                    shared.anomaly(a);
                }
                let missing: Vec<i64> = must_see
                    .iter()
                    .filter(|id| !read.contains_key(id))
                    .copied()
                    .collect();
                if !missing.is_empty() {
                    shared.anomaly(format!(
                        "a linearizable read missed loads acknowledged as visible before it \
                         began: labels {missing:?}"
                    ));
                }
            }
            Ok(Err(e)) if e.code != 0 => {}
            _ => conn = None,
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..200))).await;
    }
}
