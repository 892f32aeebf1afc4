//! The SQL logic test files (`tests/sql/**/*.slt`) against a live cluster of 1 FE and 3 BEs.

use tessera_testkit::Cluster;
use tessera_testkit::QUERY_PORT;
use tessera_testkit::ip;
use tessera_testkit::wait_until;

use crate::WAIT;

#[test]
fn sql_files_pass_against_a_live_cluster() {
    let mut c = Cluster::new("sqlfiles");
    c.start_fe(1, None);
    for i in 1..=3u8 {
        c.start_be(i);
        c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)));
    }
    wait_until(WAIT, "3 backends alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == 3).then_some(())
    });
    let dir = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../tests/sql");
    let files = tessera_testkit::slt::slt_files(&dir);
    assert!(files.len() >= 4, "no .slt files found in {}", dir.display());
    let failures = tessera_testkit::slt::run_files(&format!("{}:{QUERY_PORT}", ip(1)), &files);
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
