//! Stream Load with expressions in the `columns` header and functions in `where`, end to end:
//! a backend coordinating loads for a fake leader FE whose table has DATE, INT and VARCHAR
//! columns, then the stored rows read back from the tablet.

use std::sync::Arc;

use common::load::PlanTablet;
use common::schema::ColumnSchema;
use common::schema::DataType;
use common::schema::KeysType;
use common::schema::TableSchema;
use storage::arrow::array::Array;
use storage::arrow::array::Date32Array;
use storage::arrow::array::Int32Array;
use storage::arrow::array::StringArray;
use tessera_be::load::value::days_from_civil;

use super::*;
use crate::load::BACKEND_ID;
use crate::load::FakeTxns;
use crate::load::PARTITION;
use crate::load::ROOT;
use crate::load::load_http;
use crate::load::replica;

const TABLET: i64 = 87_001;

/// k INT NOT NULL, d DATE, y INT, s VARCHAR(16); one bucket.
fn columns_schema() -> TableSchema {
    let col = |name: &str, t, nullable| ColumnSchema {
        name: name.into(),
        data_type: t,
        nullable,
        is_key: name == "k",
        default: None,
        comment: String::new(),
    };
    TableSchema {
        columns: vec![
            col("k", DataType::Int, false),
            col("d", DataType::Date, true),
            col("y", DataType::Int, true),
            col("s", DataType::Varchar(16), true),
        ],
        keys_type: KeysType::Duplicate,
        distribution_columns: vec!["k".into()],
        buckets: 1,
        schema_version: 0,
    }
}

/// A fake leader FE whose load plan is for this table (one tablet on this backend).
async fn columns_frontend() -> (Arc<FakeTxns>, tokio::sync::oneshot::Sender<()>) {
    let txns = Arc::new(FakeTxns::default());
    txns.set_plan_with(
        columns_schema(),
        vec![PlanTablet {
            tablet_id: TABLET,
            replicas: vec![replica(BACKEND_ID, 8060)],
        }],
    );
    let (_reports, stop) = fake_frontend_with(txns.clone()).await;
    (txns, stop)
}

/// (k, d as days, y, s) of every row at `version`, by k.
type Row = (i32, Option<i32>, Option<i32>, Option<String>);

fn rows_at(handle: &BeHandle, version: i64) -> Vec<Row> {
    let read = handle
        .backend
        .storage
        .read_at(TABLET, version)
        .expect("read at version");
    let mut out = Vec::new();
    for b in read.batches() {
        let b = b.expect("batch");
        let column = |i: usize| b.column(i).as_any();
        let k = column(0).downcast_ref::<Int32Array>().expect("k is INT");
        let d = column(1).downcast_ref::<Date32Array>().expect("d is DATE");
        let y = column(2).downcast_ref::<Int32Array>().expect("y is INT");
        let s = column(3)
            .downcast_ref::<StringArray>()
            .expect("s is VARCHAR");
        for i in 0..b.num_rows() {
            out.push((
                k.value(i),
                (!d.is_null(i)).then(|| d.value(i)),
                (!y.is_null(i)).then(|| y.value(i)),
                (!s.is_null(i)).then(|| s.value(i).to_string()),
            ));
        }
    }
    out.sort_unstable();
    out
}

fn day(y: i64, m: u32, d: u32) -> Option<i32> {
    i32::try_from(days_from_civil(y, m, d)).ok()
}

fn headers(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn message(v: &serde_json::Value) -> &str {
    v["Message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_load_computes_columns_and_filters_with_functions() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_fe, stop_fe) = columns_frontend().await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(9060).await;
    let mut req = create_req(TABLET, TABLET + 1000);
    req.partition_id = PARTITION;
    req.schema = serde_json::to_vec(&columns_schema()).expect("schema json");
    let r = c
        .create_tablet(with_cluster(req, Some(CLUSTER)))
        .await
        .expect("create rpc")
        .into_inner();
    assert!(r.ok, "{}", r.error);

    // CSV: a date in the source's own format becomes d, its year y, and s is built from two
    // fields; the where header uses functions on a computed column and on a source field.
    let body = b"1,2024/03/07,ab\n2,2023/12/31,cd\n3,garbage,ef\n4,2024/1/15,gh\n5,2024/06/01,xy\n";
    let v = load_http(
        headers(&[
            ROOT,
            ("label", "columns_1"),
            ("column_separator", ","),
            (
                "columns",
                "k, tmp, raw, d = str_to_date(tmp, '%Y/%m/%d'), y = year(d), \
                 s = concat(upper(raw), '-', k * 10)",
            ),
            ("where", "year(d) = 2024 AND substr(raw, 1, 1) != 'x'"),
            ("max_filter_ratio", "0.5"),
        ]),
        body.to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Success", "{v}");
    assert_eq!(
        (
            &v["NumberTotalRows"],
            &v["NumberLoadedRows"],
            &v["NumberFilteredRows"],
            &v["NumberUnselectedRows"]
        ),
        (&5.into(), &2.into(), &1.into(), &2.into()),
        "{v}"
    );
    assert_eq!(
        rows_at(&handle, 2),
        [
            (1, day(2024, 3, 7), Some(2024), Some("AB-10".to_string())),
            (4, day(2024, 1, 15), Some(2024), Some("GH-40".to_string())),
        ]
    );
    // The row whose date does not parse is in the error log, with why.
    let url = v["ErrorURL"].as_str().expect("ErrorURL").to_string();
    let path = url
        .split_once("8040")
        .map(|(_, p)| p.to_string())
        .expect("url path");
    let (status, log) = http_get(&path);
    assert_eq!(status, 200, "{log}");
    assert!(
        log.contains(
            "Error: column d: str_to_date: 'garbage' does not match the format '%Y/%m/%d' \
             (expected a year for %Y at position 1). Row: 3,garbage,ef"
        ),
        "{log}"
    );

    // JSON, with arithmetic, if() and a cast; NULL in a field gives NULL in the column.
    let v = load_http(
        headers(&[
            ROOT,
            ("format", "json"),
            (
                "columns",
                "k, tmp, n, d = cast(tmp AS DATE), y = if(n IS NULL, -1, n DIV 2 + 1), \
                 s = date_format(d, '%d %b %Y')",
            ),
            ("where", "k >= 10"),
        ]),
        b"{\"k\": 10, \"tmp\": \"2024-02-29 10:00:00\", \"n\": 7}\n\
          {\"k\": 11, \"tmp\": null, \"n\": null}\n\
          {\"k\": 1, \"tmp\": \"2024-01-01\", \"n\": 1}\n"
            .to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Success", "{v}");
    assert_eq!(
        (&v["NumberLoadedRows"], &v["NumberUnselectedRows"]),
        (&2.into(), &1.into()),
        "{v}"
    );
    let rows = rows_at(&handle, 3);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(
        rows[2..],
        [
            (
                10,
                day(2024, 2, 29),
                Some(4),
                Some("29 Feb 2024".to_string())
            ),
            (11, None, Some(-1), None),
        ]
    );

    // A NULL for a NOT NULL column filters the row; division by zero is NULL.
    let v = load_http(
        headers(&[
            ROOT,
            ("column_separator", ","),
            ("columns", "a, b, k = a DIV b, y = a / b"),
            ("max_filter_ratio", "0.5"),
        ]),
        b"40,2\n41,0\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Success", "{v}");
    assert_eq!(
        (&v["NumberLoadedRows"], &v["NumberFilteredRows"]),
        (&1.into(), &1.into()),
        "{v}"
    );
    assert!(rows_at(&handle, 4).contains(&(20, None, Some(20), None)));

    drop(c);
    handle.shutdown().await;
    let _ = stop_fe.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_load_refuses_unknown_functions_and_bad_mappings() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let (fe, stop_fe) = columns_frontend().await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);

    // Found when the headers are read: no transaction is begun.
    let v = load_http(
        headers(&[ROOT, ("columns", "k, tmp, d = nosuch_fn(tmp)")]),
        b"1\tx\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Fail", "{v}");
    assert_eq!(v["TxnId"], -1, "{v}");
    assert!(
        message(&v).starts_with(
            "columns: unknown function `nosuch_fn` in `d = nosuch_fn(tmp)` (the functions a \
             load can use are abs,"
        ),
        "{v}"
    );
    let v = load_http(
        headers(&[ROOT, ("columns", "k, tmp, d = str_to_date(tmp)")]),
        b"1\tx\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Fail", "{v}");
    assert_eq!(
        message(&v),
        "columns: function `str_to_date` takes 2 arguments, not 1, in `d = str_to_date(tmp)`"
    );
    let v = load_http(
        headers(&[ROOT, ("where", "lenght(k) > 1")]),
        b"1\tx\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Fail", "{v}");
    assert!(
        message(&v).starts_with("where: unknown function `lenght` in `lenght(k) > 1`"),
        "{v}"
    );

    // Found when the mapping meets the table: the transaction is aborted.
    let v = load_http(
        headers(&[ROOT, ("columns", "k, y = year(d), d = to_date(y)")]),
        b"1\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Fail", "{v}");
    assert_eq!(
        message(&v),
        "columns: the expressions of d, y use each other in a cycle"
    );
    let txn = v["TxnId"].as_i64().expect("txn id");
    assert!(fe.aborted(txn), "{v}");
    let v = load_http(
        headers(&[ROOT, ("columns", "k, y = year(nope)")]),
        b"1\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Fail", "{v}");
    assert_eq!(
        message(&v),
        "columns: the expression of `y` uses `nope`, which names no source column (the source \
         columns are k)"
    );

    handle.shutdown().await;
    let _ = stop_fe.send(());
}
