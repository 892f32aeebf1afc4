//! Forwarded writes, read-your-writes on non-leaders, linearizable reads, journaled config.

use tessera_testkit::Cluster;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

#[test]
fn an_observer_always_reads_its_own_writes() {
    let mut c = Cluster::new("ryw");
    c.start_ha(3, 1);
    phase!("on one observer session: each write is visible to the next statement");
    let names: Vec<String> = (0..15).map(|i| format!("ryw_{i}")).collect();
    let mut stmts = Vec::new();
    for n in &names {
        stmts.push(format!("CREATE DATABASE {n}"));
        stmts.push("SHOW DATABASES".to_string());
    }
    let refs: Vec<&str> = stmts.iter().map(String::as_str).collect();
    let results = c.session(4, &refs);
    assert_eq!(results.len(), refs.len(), "{:?}", results.last());
    for (k, n) in names.iter().enumerate() {
        let shown = results[2 * k + 1].as_ref().expect("show").first_column();
        assert!(
            shown.contains(n),
            "the observer did not see its own write {n}"
        );
    }
    phase!("the same for ADMIN SET FRONTEND CONFIG on a follower");
    let follower = if c.wait_leader(WAIT) == 2 { 3 } else { 2 };
    let results = c.session(
        follower,
        &[
            "ADMIN SET FRONTEND CONFIG (\"heartbeat_retry_times\" = \"4\")",
            "ADMIN SHOW FRONTEND CONFIG LIKE 'heartbeat_retry_times'",
        ],
    );
    let rows = results[1].as_ref().expect("show config");
    assert_eq!(
        rows.columns,
        ["Key", "AliasNames", "Value", "Type", "IsMutable", "Comment"]
    );
    assert_eq!(rows.get(0, "Value"), "4");
    phase!("the config change is cluster-wide");
    for i in 1..=4 {
        wait_until(WAIT, "every FE sees the new config", || {
            (c.sql(i, "ADMIN SHOW FRONTEND CONFIG LIKE 'heartbeat_retry_times'")
                .ok()?
                .get(0, "Value")
                == "4")
                .then_some(())
        });
    }
}

#[test]
fn linearizable_reads_see_writes_made_anywhere() {
    let mut c = Cluster::new("linear");
    c.start_ha(3, 1);
    let e = c
        .sql(4, "SET read_consistency = 'eventual'")
        .expect_err("bad value");
    assert!(e.message.contains("read_consistency"), "{e}");
    phase!("a write on node 1 followed by a linearizable read on the observer");
    for n in 0..10 {
        let name = format!("lin_{n}");
        c.sql_ok(1, &format!("CREATE DATABASE {name}"));
        let results = c.session(
            4,
            &["SET read_consistency = 'linearizable'", "SHOW DATABASES"],
        );
        let shown = results[1].as_ref().expect("show").first_column();
        assert!(shown.contains(&name), "linearizable read missed {name}");
    }
}

#[test]
fn forwarded_statements_keep_their_errors() {
    let mut c = Cluster::new("fwderr");
    c.start_ha(3, 1);
    c.sql_ok(4, "CREATE DATABASE fwd_dup");
    let e = c.sql(4, "CREATE DATABASE fwd_dup").expect_err("dup");
    assert_eq!(e.code, 1007, "{e}");
    let e = c.sql(3, "DROP DATABASE fwd_missing").expect_err("missing");
    assert!(e.message.contains("doesn't exist"), "{e}");
    let e = c
        .sql(4, "ADMIN SET FRONTEND CONFIG (\"no_such_key\" = \"1\")")
        .expect_err("key");
    assert!(e.message.contains("does not exist"), "{e}");
    let e = c
        .sql(2, "ADMIN SET FRONTEND CONFIG (\"http_port\" = \"1\")")
        .expect_err("immutable");
    assert!(e.message.contains("not mutable"), "{e}");
    let e = c
        .sql(
            4,
            "ADMIN SET FRONTEND CONFIG (\"heartbeat_retry_times\" = \"many\")",
        )
        .expect_err("type");
    assert!(e.message.contains("Invalid value"), "{e}");
}
