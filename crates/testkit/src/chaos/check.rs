//! Checkers for the recorded histories: linearizability of metadata operations (per key,
//! with stateright's tester), loads present exactly once, whole-load visibility, and reads
//! that never go back in time.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::time::Duration;
use std::time::Instant;

use stateright::semantics::ConsistencyTester;
use stateright::semantics::LinearizabilityTester;
use stateright::semantics::SequentialSpec;

/// A metadata operation on one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MetaOp {
    /// `ADMIN SET FRONTEND CONFIG (key = v)`.
    Write(String),
    /// `ADMIN SHOW FRONTEND CONFIG LIKE key`.
    Read,
    /// `CREATE DATABASE key`.
    Create,
    /// `DROP DATABASE key`.
    Drop,
    /// Whether database `key` exists (`SHOW DATABASES`).
    Exists,
}

/// What a metadata operation returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MetaRet {
    /// A write succeeded.
    Written,
    /// A read saw this value.
    Value(String),
    /// CREATE succeeded.
    Created,
    /// CREATE failed: the database exists.
    AlreadyExists,
    /// DROP succeeded.
    Dropped,
    /// DROP failed: no such database.
    NotFound,
    /// The database exists (or not).
    Present(bool),
}

/// The sequential model of one key: a register (config values) or a presence flag
/// (databases, `Some("")` when present).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyModel(pub Option<String>);

impl SequentialSpec for KeyModel {
    type Op = MetaOp;
    type Ret = MetaRet;

    fn invoke(&mut self, op: &MetaOp) -> MetaRet {
        match op {
            MetaOp::Write(v) => {
                self.0 = Some(v.clone());
                MetaRet::Written
            }
            MetaOp::Read => MetaRet::Value(self.0.clone().unwrap_or_default()),
            MetaOp::Create => {
                if self.0.is_some() {
                    MetaRet::AlreadyExists
                } else {
                    self.0 = Some(String::new());
                    MetaRet::Created
                }
            }
            MetaOp::Drop => {
                if self.0.take().is_some() {
                    MetaRet::Dropped
                } else {
                    MetaRet::NotFound
                }
            }
            MetaOp::Exists => MetaRet::Present(self.0.is_some()),
        }
    }
}

/// One metadata operation as a client saw it. `ret == None`: the outcome is unknown (timeout,
/// lost connection), so it may or may not have taken effect, at any time after `start`.
#[derive(Clone, Debug)]
pub struct MetaEvent {
    /// The client process (a new one after every unknown outcome).
    pub process: u64,
    /// The key.
    pub key: String,
    /// The operation.
    pub op: MetaOp,
    /// What it returned.
    pub ret: Option<MetaRet>,
    /// When it was sent.
    pub start: Instant,
    /// When the answer came (or the client gave up).
    pub end: Instant,
    /// The frontend it went to.
    pub fe: u8,
}

/// The outcome of checking one key.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyVerdict {
    /// Linearizable.
    Ok,
    /// Not linearizable.
    Anomaly,
    /// The search did not finish in time (reported, never counted as a pass).
    Inconclusive,
}

/// Checks one key's history (`initial`: the key's value before the run).
pub fn check_key(initial: Option<String>, events: &[MetaEvent], budget: Duration) -> KeyVerdict {
    enum Step<'a> {
        Invoke(&'a MetaEvent),
        Return(&'a MetaEvent),
    }
    let mut steps: Vec<(Instant, u8, Step)> = Vec::new();
    for e in events {
        // At equal instants invokes sort first: the operations count as concurrent.
        steps.push((e.start, 0, Step::Invoke(e)));
        if e.ret.is_some() {
            steps.push((e.end, 1, Step::Return(e)));
        }
    }
    steps.sort_by_key(|(t, order, _)| (*t, *order));
    let mut tester = LinearizabilityTester::new(KeyModel(initial));
    for (_, _, step) in &steps {
        let r = match step {
            Step::Invoke(e) => tester.on_invoke(e.process, e.op.clone()).map(|_| ()),
            Step::Return(e) => match &e.ret {
                Some(ret) => tester.on_return(e.process, ret.clone()).map(|_| ()),
                None => Ok(()),
            },
        };
        if r.is_err() {
            // A malformed history (a process with two operations in flight) is our bug.
            return KeyVerdict::Anomaly;
        }
    }
    // The search is exponential in the worst case: run it on a thread with a deadline.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(tester.is_consistent());
    });
    match rx.recv_timeout(budget) {
        Ok(true) => KeyVerdict::Ok,
        Ok(false) => KeyVerdict::Anomaly,
        Err(_) => KeyVerdict::Inconclusive,
    }
}

/// One Stream Load label as its client saw it.
#[derive(Clone, Debug)]
pub struct LoadRecord {
    /// The label's number (rows carry it).
    pub label_id: i64,
    /// Acknowledged: Success, Publish Timeout, or Label Already Exists with a finished job.
    pub acked: bool,
    /// Acknowledged as visible (Success, or an existing FINISHED job) — a linearizable read
    /// that starts later must see it.
    pub visible_at: Option<Instant>,
    /// Attempts made (the same label each time).
    pub attempts: u32,
    /// The last answer, for the report.
    pub last: String,
}

/// Checks the final table contents against the loads: every acknowledged label present with
/// exactly `rows_per_load` rows, no label partly present or present twice. `counts`: label
/// id → (rows, sum of row numbers) as read after recovery.
pub fn check_loads(
    records: &[LoadRecord],
    counts: &BTreeMap<i64, (i64, i64)>,
    rows_per_load: i64,
) -> Vec<String> {
    let mut anomalies = Vec::new();
    let known: BTreeSet<i64> = records.iter().map(|r| r.label_id).collect();
    let expected_sum = rows_per_load * (rows_per_load - 1) / 2;
    for r in records {
        match counts.get(&r.label_id) {
            None if r.acked => anomalies.push(format!(
                "lost load: label {} was acknowledged ({}) but none of its rows are there",
                r.label_id, r.last
            )),
            Some((n, _)) if *n != rows_per_load => anomalies.push(format!(
                "label {} has {n} rows, expected {rows_per_load} ({}, {} attempts, last: {})",
                r.label_id,
                if r.acked {
                    "acknowledged"
                } else {
                    "not acknowledged"
                },
                r.attempts,
                r.last
            )),
            Some((_, sum)) if *sum != expected_sum => anomalies.push(format!(
                "label {} has the right row count but wrong rows (sum {sum}, expected \
                 {expected_sum})",
                r.label_id
            )),
            _ => {}
        }
    }
    for id in counts.keys() {
        if !known.contains(id) {
            anomalies.push(format!("rows of label {id}, which no client loaded"));
        }
    }
    anomalies
}

/// Checks one reader's observations on one session: every load whole, and the set of
/// visible labels never shrinking.
#[derive(Default)]
pub struct ReadChecker {
    seen: BTreeSet<i64>,
}

impl ReadChecker {
    /// A new session (after a reconnect, nothing carries over).
    pub fn reset(&mut self) {
        self.seen.clear();
    }

    /// Checks one read (label id → rows); returns the anomalies it shows.
    pub fn observe(&mut self, read: &BTreeMap<i64, i64>, rows_per_load: i64) -> Vec<String> {
        let mut out = Vec::new();
        for (id, n) in read {
            if *n != rows_per_load {
                out.push(format!(
                    "a reader saw {n} of label {id}'s {rows_per_load} rows (a partly visible load)"
                ));
            }
        }
        let now: BTreeSet<i64> = read.keys().copied().collect();
        let gone: Vec<i64> = self.seen.difference(&now).copied().collect();
        if !gone.is_empty() {
            out.push(format!(
                "a reader went back in time: labels {gone:?} were visible on this session and \
                 are not any more"
            ));
        }
        self.seen = now;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(p: u64, op: MetaOp, ret: Option<MetaRet>, s: u64, e: u64, base: Instant) -> MetaEvent {
        MetaEvent {
            process: p,
            key: "k".into(),
            op,
            ret,
            start: base + Duration::from_millis(s),
            end: base + Duration::from_millis(e),
            fe: 1,
        }
    }

    const BUDGET: Duration = Duration::from_secs(10);

    #[test]
    fn a_sequential_register_history_is_linearizable() {
        let t = Instant::now();
        let h = vec![
            ev(
                1,
                MetaOp::Write("a".into()),
                Some(MetaRet::Written),
                0,
                10,
                t,
            ),
            ev(2, MetaOp::Read, Some(MetaRet::Value("a".into())), 20, 30, t),
        ];
        assert_eq!(check_key(Some("0".into()), &h, BUDGET), KeyVerdict::Ok);
    }

    #[test]
    fn a_stale_read_after_a_write_is_an_anomaly() {
        let t = Instant::now();
        let h = vec![
            ev(
                1,
                MetaOp::Write("a".into()),
                Some(MetaRet::Written),
                0,
                10,
                t,
            ),
            ev(2, MetaOp::Read, Some(MetaRet::Value("0".into())), 20, 30, t),
        ];
        assert_eq!(check_key(Some("0".into()), &h, BUDGET), KeyVerdict::Anomaly);
    }

    #[test]
    fn a_concurrent_read_may_see_either_value() {
        let t = Instant::now();
        let h = vec![
            ev(
                1,
                MetaOp::Write("a".into()),
                Some(MetaRet::Written),
                0,
                30,
                t,
            ),
            ev(2, MetaOp::Read, Some(MetaRet::Value("0".into())), 10, 20, t),
            ev(3, MetaOp::Read, Some(MetaRet::Value("a".into())), 12, 25, t),
        ];
        assert_eq!(check_key(Some("0".into()), &h, BUDGET), KeyVerdict::Ok);
    }

    #[test]
    fn an_unknown_write_may_take_effect_late_or_never() {
        let t = Instant::now();
        // The write timed out; a later read sees it, a still later one too.
        let seen = vec![
            ev(1, MetaOp::Write("a".into()), None, 0, 10, t),
            ev(2, MetaOp::Read, Some(MetaRet::Value("0".into())), 20, 30, t),
            ev(3, MetaOp::Read, Some(MetaRet::Value("a".into())), 40, 50, t),
        ];
        assert_eq!(check_key(Some("0".into()), &seen, BUDGET), KeyVerdict::Ok);
        let never = vec![
            ev(1, MetaOp::Write("a".into()), None, 0, 10, t),
            ev(2, MetaOp::Read, Some(MetaRet::Value("0".into())), 20, 30, t),
        ];
        assert_eq!(check_key(Some("0".into()), &never, BUDGET), KeyVerdict::Ok);
        // But it cannot un-happen.
        let flicker = vec![
            ev(1, MetaOp::Write("a".into()), None, 0, 10, t),
            ev(2, MetaOp::Read, Some(MetaRet::Value("a".into())), 20, 30, t),
            ev(3, MetaOp::Read, Some(MetaRet::Value("0".into())), 40, 50, t),
        ];
        assert_eq!(
            check_key(Some("0".into()), &flicker, BUDGET),
            KeyVerdict::Anomaly
        );
    }

    #[test]
    fn create_twice_succeeding_is_an_anomaly() {
        let t = Instant::now();
        let h = vec![
            ev(1, MetaOp::Create, Some(MetaRet::Created), 0, 10, t),
            ev(2, MetaOp::Create, Some(MetaRet::Created), 20, 30, t),
        ];
        assert_eq!(check_key(None, &h, BUDGET), KeyVerdict::Anomaly);
        let ok = vec![
            ev(1, MetaOp::Create, Some(MetaRet::Created), 0, 10, t),
            ev(2, MetaOp::Exists, Some(MetaRet::Present(true)), 20, 30, t),
            ev(3, MetaOp::Drop, Some(MetaRet::Dropped), 40, 50, t),
            ev(2, MetaOp::Drop, Some(MetaRet::NotFound), 60, 70, t),
            ev(1, MetaOp::Create, Some(MetaRet::Created), 80, 90, t),
        ];
        assert_eq!(check_key(None, &ok, BUDGET), KeyVerdict::Ok);
    }

    fn rec(id: i64, acked: bool) -> LoadRecord {
        LoadRecord {
            label_id: id,
            acked,
            visible_at: None,
            attempts: 1,
            last: "x".into(),
        }
    }

    #[test]
    fn loads_are_checked_for_loss_duplicates_and_partial_rows() {
        let n = 4;
        let sum = 6;
        let records = vec![rec(1, true), rec(2, false), rec(3, false), rec(4, true)];
        let mut counts = BTreeMap::new();
        counts.insert(1, (n, sum));
        counts.insert(3, (n, sum));
        counts.insert(4, (n, sum));
        assert!(check_loads(&records, &counts, n).is_empty());
        counts.remove(&1);
        counts.insert(4, (2 * n, 2 * sum));
        counts.insert(2, (2, 1));
        counts.insert(9, (n, sum));
        let a = check_loads(&records, &counts, n);
        assert_eq!(a.len(), 4, "{a:?}");
    }

    #[test]
    fn reads_must_be_whole_and_monotonic() {
        let mut r = ReadChecker::default();
        let read = |pairs: &[(i64, i64)]| pairs.iter().copied().collect::<BTreeMap<_, _>>();
        assert!(r.observe(&read(&[(1, 3)]), 3).is_empty());
        assert!(r.observe(&read(&[(1, 3), (2, 3)]), 3).is_empty());
        assert_eq!(r.observe(&read(&[(2, 3)]), 3).len(), 1);
        assert_eq!(r.observe(&read(&[(2, 3), (5, 1)]), 3).len(), 1);
        r.reset();
        assert!(r.observe(&read(&[(7, 3)]), 3).is_empty());
    }
}
