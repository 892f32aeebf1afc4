//! ALTER SYSTEM, CANCEL DECOMMISSION, SHOW FRONTENDS/BACKENDS/PROC, ADMIN FE config.

use tessera_sql::{AlterSystemOp, Statement};

use crate::common::{check, check_all_eq, check_eq, kv, strs};

fn sys(op: AlterSystemOp) -> Statement {
    Statement::AlterSystem(op)
}

#[test]
fn add_and_drop_frontends() {
    check_eq(
        "ALTER SYSTEM ADD FOLLOWER \"192.168.1.2:9010\"",
        sys(AlterSystemOp::AddFollower(strs(&["192.168.1.2:9010"]))),
    );
    check_all_eq(&[
        "ALTER SYSTEM ADD FOLLOWER \"h1:9010\", \"h2:9010\"",
        "alter system add follower 'h1:9010','h2:9010'",
        "Alter System Add Follower \"h1:9010\" , 'h2:9010'",
    ]);
    check_eq(
        "ALTER SYSTEM ADD OBSERVER 'h3:9010'",
        sys(AlterSystemOp::AddObserver(strs(&["h3:9010"]))),
    );
    check_eq(
        "ALTER SYSTEM DROP FOLLOWER 'h1:9010'",
        sys(AlterSystemOp::DropFollower(strs(&["h1:9010"]))),
    );
    check_eq(
        "ALTER SYSTEM DROP OBSERVER 'h3:9010', 'h4:9010'",
        sys(AlterSystemOp::DropObserver(strs(&["h3:9010", "h4:9010"]))),
    );
    // Host strings are kept raw; validation is the FE's job.
    check_eq(
        "ALTER SYSTEM ADD FOLLOWER 'not a host'",
        sys(AlterSystemOp::AddFollower(strs(&["not a host"]))),
    );
}

#[test]
fn backends() {
    check_eq(
        "ALTER SYSTEM ADD BACKEND \"h1:9050\", \"h2:9050\"",
        sys(AlterSystemOp::AddBackend(strs(&["h1:9050", "h2:9050"]))),
    );
    check_eq(
        "ALTER SYSTEM DROP BACKEND 'h1:9050'",
        sys(AlterSystemOp::DropBackend {
            hosts: strs(&["h1:9050"]),
            force: false,
        }),
    );
    let forced = sys(AlterSystemOp::DropBackend {
        hosts: strs(&["h1:9050", "h2:9050"]),
        force: true,
    });
    check_eq(
        "ALTER SYSTEM DROP BACKEND 'h1:9050', 'h2:9050' FORCE",
        forced.clone(),
    );
    check_eq("alter system dropp backend 'h1:9050', 'h2:9050'", forced);
    check_eq(
        "ALTER SYSTEM DECOMMISSION BACKEND 'h1:9050'",
        sys(AlterSystemOp::DecommissionBackend(strs(&["h1:9050"]))),
    );
    check_eq(
        "CANCEL DECOMMISSION BACKEND \"h1:9050\", \"h2:9050\"",
        sys(AlterSystemOp::CancelDecommissionBackend(strs(&[
            "h1:9050", "h2:9050",
        ]))),
    );
}

#[test]
fn modify_host_and_image() {
    check_eq(
        "ALTER SYSTEM MODIFY FRONTEND HOST '10.0.0.1' TO 'fe1.example.com'",
        sys(AlterSystemOp::ModifyFrontendHost {
            from: "10.0.0.1".into(),
            to: "fe1.example.com".into(),
        }),
    );
    check_eq(
        "alter system modify backend host \"10.0.0.2\" to \"be1.example.com\"",
        sys(AlterSystemOp::ModifyBackendHost {
            from: "10.0.0.2".into(),
            to: "be1.example.com".into(),
        }),
    );
    check_eq("ALTER SYSTEM CREATE IMAGE", sys(AlterSystemOp::CreateImage));
}

#[test]
fn alter_system_display_is_starrocks_style() {
    assert_eq!(
        check("alter system add follower 'h:1'").to_string(),
        "ALTER SYSTEM ADD FOLLOWER \"h:1\""
    );
    assert_eq!(
        check("alter system dropp backend 'h:1'").to_string(),
        "ALTER SYSTEM DROP BACKEND \"h:1\" FORCE"
    );
    // Quotes inside hosts survive the round trip.
    check("ALTER SYSTEM ADD BACKEND 'we\"ird\\'host:1'");
}

#[test]
fn show_nodes_and_proc() {
    check_eq("SHOW FRONTENDS", Statement::ShowFrontends);
    check_eq("show backends", Statement::ShowBackends);
    check_eq(
        "SHOW PROC '/frontends'",
        Statement::ShowProc {
            path: "/frontends".into(),
        },
    );
    check_all_eq(&["SHOW PROC '/backends'", "show proc \"/backends\""]);
    check_eq(
        "SHOW PROC '/dbs/10001/10002/partitions'",
        Statement::ShowProc {
            path: "/dbs/10001/10002/partitions".into(),
        },
    );
}

#[test]
fn admin_frontend_config() {
    check_eq(
        "ADMIN SET FRONTEND CONFIG (\"tablet_sched_max_scheduling_tablets\" = \"100\")",
        Statement::AdminSetFrontendConfig {
            items: kv(&[("tablet_sched_max_scheduling_tablets", "100")]),
        },
    );
    // Values may be bare numbers or words.
    check_all_eq(&[
        "ADMIN SET FRONTEND CONFIG ('a' = '100', 'b' = 'true', 'c' = '-1')",
        "admin set frontend config (\"a\" = 100, \"b\" = true, \"c\" = -1)",
    ]);
    check_eq(
        "ADMIN SHOW FRONTEND CONFIG",
        Statement::AdminShowFrontendConfig { like: None },
    );
    check_eq(
        "admin show frontend config like '%tablet_sched%'",
        Statement::AdminShowFrontendConfig {
            like: Some("%tablet_sched%".into()),
        },
    );
}
