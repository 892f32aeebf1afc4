//! The journal: checkpoints bound the log; a node far behind installs a checkpoint image.

use tessera_testkit::Cluster;
use tessera_testkit::EDIT_LOG_PORT;
use tessera_testkit::ip;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

fn images(c: &Cluster, i: u8) -> Vec<String> {
    std::fs::read_dir(c.node_dir(i).join("meta/image"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with("image.") && n != "image.ckpt")
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_node_far_behind_installs_a_checkpoint_image() {
    let mut c = Cluster::new("snapshot");
    c.write_conf(1, &[("edit_log_roll_num", "100")]);
    c.start_fe(1, None);
    phase!("350 journal entries: several checkpoints, the log is purged");
    let stmts: Vec<String> = (0..350)
        .map(|i| format!("CREATE DATABASE snap_{i}"))
        .collect();
    let refs: Vec<&str> = stmts.iter().map(String::as_str).collect();
    let results = c.session(1, &refs);
    assert!(results.iter().all(|r| r.is_ok()), "{:?}", results.last());
    wait_until(WAIT, "a checkpoint image on node 1", || {
        (!images(&c, 1).is_empty()).then_some(())
    });
    phase!("a new follower must start from the image, then replay the rest");
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM ADD FOLLOWER \"{}:{EDIT_LOG_PORT}\"", ip(2)),
    );
    c.start_fe(2, Some(1));
    c.wait_frontend_field(1, 2, "ErrMsg", "", WAIT);
    let dbs = c.sql_ok(2, "SHOW DATABASES").first_column();
    for i in 0..350 {
        assert!(dbs.contains(&format!("snap_{i}")), "node 2 misses snap_{i}");
    }
    assert!(
        c.log(2)
            .contains("installed checkpoint image from the leader")
    );
    assert!(!images(&c, 2).is_empty());
    phase!("ALTER SYSTEM CREATE IMAGE writes a fresh image on the leader");
    c.sql_ok(1, "CREATE DATABASE after_images");
    c.sql_ok(1, "ALTER SYSTEM CREATE IMAGE");
    phase!("both nodes restart from their images and journals");
    c.kill(1);
    c.kill(2);
    c.start_fe(1, None);
    c.start_fe(2, None);
    c.wait_healthy(2, WAIT);
    // A restarted follower learns the commit index from the leader, then replays.
    wait_until(WAIT, "node 2 replays everything after the restart", || {
        let dbs = c.sql(2, "SHOW DATABASES").ok()?.first_column();
        (dbs.contains(&"after_images".to_string()) && dbs.contains(&"snap_349".to_string()))
            .then_some(())
    });
    phase!("a linearizable read on the follower sees everything at once");
    let r = c.session(
        2,
        &["SET read_consistency = 'linearizable'", "SHOW DATABASES"],
    );
    assert!(
        r[1].as_ref()
            .expect("show")
            .first_column()
            .contains(&"after_images".to_string())
    );
}

#[test]
fn an_acknowledged_write_survives_kill_9_of_a_single_node() {
    let mut c = Cluster::new("durable");
    c.start_fe(1, None);
    for i in 0..20 {
        c.sql_ok(1, &format!("CREATE DATABASE durable_{i}"));
    }
    c.kill(1);
    c.start_fe(1, None);
    c.wait_leader(WAIT);
    let dbs = c.sql_ok(1, "SHOW DATABASES").first_column();
    for i in 0..20 {
        assert!(dbs.contains(&format!("durable_{i}")));
    }
}
