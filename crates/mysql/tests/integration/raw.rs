//! The server driven byte by byte by the test client in `client.rs`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tessera_mysql::ServerConfig;
use tokio::io::AsyncWriteExt;

use crate::client::*;
use crate::support::{bounded, eventually, start};

fn small_config() -> ServerConfig {
    ServerConfig {
        max_packet_bytes: 1 << 20,
        ..ServerConfig::default()
    }
}

fn single_text(r: &Response) -> String {
    let rows = r.rows();
    assert_eq!(rows.len(), 1, "{r:?}");
    match &rows[0][0] {
        Cell::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn greeting_and_login_variants() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let (_c, greeting, answer) = RawClient::login(server.addr, &Login::default()).await;
        assert!(matches!(answer, Response::Ok { .. }), "{answer:?}");
        assert_eq!(greeting.server_version, "5.1.0");
        assert_eq!(greeting.plugin, "mysql_native_password");
        assert_eq!(greeting.charset, 45);
        assert_eq!(greeting.status & 0x0002, 0x0002, "autocommit");
        assert!(
            greeting
                .scramble
                .iter()
                .all(|&b| (0x21..=0x7E).contains(&b))
        );
        assert_eq!(greeting.capabilities & CLIENT_SSL, 0);
        for cap in [
            CLIENT_PROTOCOL_41,
            CLIENT_SECURE_CONNECTION,
            CLIENT_PLUGIN_AUTH,
            CLIENT_CONNECT_WITH_DB,
            CLIENT_MULTI_STATEMENTS,
            CLIENT_MULTI_RESULTS,
            CLIENT_CONNECT_ATTRS,
            CLIENT_PLUGIN_AUTH_LENENC,
            CLIENT_DEPRECATE_EOF,
        ] {
            assert_ne!(greeting.capabilities & cap, 0, "capability {cap:#x}");
        }

        // Password user, native plugin.
        let u1 = Login {
            user: "u1",
            password: "p1",
            ..Login::default()
        };
        let (_c2, second, answer) = RawClient::login(server.addr, &u1).await;
        assert!(matches!(answer, Response::Ok { .. }), "{answer:?}");
        assert_ne!(second.connection_id, greeting.connection_id);
        assert_ne!(second.scramble, greeting.scramble, "scramble must be fresh");

        // A MySQL 8 style client defaulting to caching_sha2_password is
        // switched to mysql_native_password with the same scramble.
        let sha2 = Login {
            user: "u1",
            password: "p1",
            plugin: "caching_sha2_password",
            ..Login::default()
        };
        RawClient::login_ok(server.addr, &sha2).await;

        // Wrong passwords and unknown users are refused with 1045 / 28000,
        // and the server closes the connection.
        for (user, password) in [("u1", "nope"), ("u1", ""), ("root", "x"), ("ghost", "")] {
            let login = Login {
                user,
                password,
                ..Login::default()
            };
            let (mut c, _, answer) = RawClient::login(server.addr, &login).await;
            match answer {
                Response::Err {
                    code,
                    state,
                    message,
                } => {
                    assert_eq!((code, state.as_str()), (1045, "28000"));
                    assert!(message.contains("Access denied"), "{message}");
                }
                other => panic!("expected ERR for {user}/{password}, got {other:?}"),
            }
            assert!(c.closed_by_server().await);
        }

        // Initial database.
        let with_db = Login {
            database: Some("db1"),
            ..Login::default()
        };
        let mut c = RawClient::login_ok(server.addr, &with_db).await;
        assert_eq!(single_text(&c.query("select database()").await), "db1");
        let bad_db = Login {
            database: Some("nodb"),
            ..Login::default()
        };
        let (_, _, answer) = RawClient::login(server.addr, &bad_db).await;
        assert_eq!(answer.err_code(), Some(1049));
    })
    .await;
}

#[tokio::test]
async fn text_result_sets_in_both_eof_modes() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        for deprecate_eof in [true, false] {
            let mut login = Login::default();
            if !deprecate_eof {
                login.capabilities &= !CLIENT_DEPRECATE_EOF;
            }
            let mut c = RawClient::login_ok(server.addr, &login).await;
            let r = c.query("select * from t").await;
            let columns = r.columns();
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(
                names,
                [
                    "id", "name", "price", "day", "ts", "note", "amount", "small", "ratio"
                ]
            );
            assert_eq!(columns[0].column_type, 0x08);
            assert_eq!(columns[0].charset, 63);
            assert_eq!(columns[1].column_type, 0xfd);
            assert_eq!(columns[1].charset, 45);
            assert_eq!(
                (columns[1].schema.as_str(), columns[1].table.as_str()),
                ("db1", "t")
            );
            let rows = r.rows();
            let t = Cell::text;
            assert_eq!(
                rows[0],
                vec![
                    t("1"),
                    t("alice"),
                    t("1.5"),
                    t("2024-01-02"),
                    t("2024-01-02 03:04:05"),
                    Cell::Null,
                    t("10.50"),
                    t("-7"),
                    t("0.25")
                ]
            );
            assert_eq!(
                rows[1],
                vec![
                    t("2"),
                    t("bob"),
                    t("0.1"),
                    t("1999-12-31"),
                    t("1999-12-31 23:59:59.500000"),
                    t("x"),
                    t("-3.00"),
                    t("127"),
                    t("-1.5")
                ]
            );
            assert_eq!(rows[2][1], t("Zoë"));
            assert_eq!(rows[2][2], t("1e300"));
            assert_eq!(rows[2][8], t("3"));
            assert_eq!(r.status() & 0x0002, 0x0002);

            let ok = c.query("insert into t values (1)").await;
            assert_eq!(
                ok,
                Response::Ok {
                    affected_rows: 3,
                    last_insert_id: 7,
                    status: 2,
                    warnings: 0,
                    info: "Records: 3  Duplicates: 0  Warnings: 0".into()
                }
            );
            match c.query("bogus").await {
                Response::Err {
                    code,
                    state,
                    message,
                } => {
                    assert_eq!((code, state.as_str()), (1064, "42000"));
                    assert!(message.contains("bogus"));
                }
                other => panic!("{other:?}"),
            }
            // Still usable after an error.
            assert_eq!(single_text(&c.query("select 1").await), "1");
        }
    })
    .await;
}

#[tokio::test]
async fn pipelined_commands_in_one_write() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let mut c = RawClient::login_ok(server.addr, &Login::default()).await;
        let mut bytes = command_packet(COM_QUERY, b"select 1");
        bytes.extend(command_packet(COM_QUERY, b"select 2"));
        bytes.extend(command_packet(COM_PING, b""));
        bytes.extend(command_packet(COM_QUERY, b"select * from t"));
        c.stream.write_all(&bytes).await.expect("write");
        c.seq = 1;
        assert_eq!(single_text(&c.read_response(false).await), "1");
        c.seq = 1;
        assert_eq!(single_text(&c.read_response(false).await), "2");
        c.seq = 1;
        assert!(matches!(c.read_response(false).await, Response::Ok { .. }));
        c.seq = 1;
        assert_eq!(c.read_response(false).await.rows().len(), 3);
    })
    .await;
}

#[tokio::test]
async fn command_trickled_byte_by_byte() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let mut c = RawClient::login_ok(server.addr, &Login::default()).await;
        let bytes = command_packet(COM_QUERY, b"select 2");
        for b in bytes {
            c.stream.write_all(&[b]).await.expect("write");
            c.stream.flush().await.expect("flush");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c.seq = 1;
        assert_eq!(single_text(&c.read_response(false).await), "2");
    })
    .await;
}

#[tokio::test]
async fn oversized_packet_is_refused_without_buffering() {
    bounded(async {
        let server = start(small_config()).await;
        // After login: a header announcing 2 MiB (max is 1 MiB).
        let mut c = RawClient::login_ok(server.addr, &Login::default()).await;
        c.stream
            .write_all(&[0x00, 0x00, 0x20, 0x00, COM_QUERY, b's'])
            .await
            .expect("write");
        c.seq = 1;
        match c.read_packet().await {
            p if p[0] == 0xFF => match parse_err(&p) {
                Response::Err { code, state, .. } => {
                    assert_eq!((code, state.as_str()), (1153, "08S01"));
                }
                _ => unreachable!(),
            },
            p => panic!("expected ERR, got {p:?}"),
        }
        assert!(c.closed_by_server().await);
        // The session was closed on the server side.
        let handler = server.handler.clone();
        eventually("session close", || {
            handler.closed.load(Ordering::SeqCst) >= 1
        })
        .await;

        // Before login, in the handshake response, too.
        let mut c = RawClient::connect(server.addr).await;
        c.read_greeting().await;
        c.stream
            .write_all(&[0xFF, 0xFF, 0xFF, 0x01])
            .await
            .expect("write");
        c.seq = 2;
        let p = c.read_packet().await;
        assert_eq!(parse_err(&p).err_code(), Some(1153));
        assert!(c.closed_by_server().await);

        // A payload of exactly the maximum is fine (it reaches the handler).
        let mut c = RawClient::login_ok(server.addr, &Login::default()).await;
        let mut sql = b"echo ".to_vec();
        sql.resize((1 << 20) - 1, b'a');
        c.command(COM_QUERY, &sql).await;
        let r = c.read_response(false).await;
        assert_eq!(single_text(&r).len(), (1 << 20) - 1);
    })
    .await;
}

#[tokio::test]
async fn payloads_over_16_mib_are_split_and_joined() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let mut c = RawClient::login_ok(server.addr, &Login::default()).await;
        // 17 MiB query: two physical packets each way.
        let mut sql = b"echo ".to_vec();
        sql.extend((0..17 << 20).map(|i| b'a' + (i % 26) as u8));
        c.command(COM_QUERY, &sql).await;
        let r = c.read_response(false).await;
        let echoed = match &r.rows()[0][0] {
            Cell::Bytes(b) => b.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(echoed.len(), sql.len());
        assert!(echoed == sql);
        assert_eq!(single_text(&c.query("select 1").await), "1");
    })
    .await;
}

#[tokio::test]
async fn garbage_closes_only_that_connection() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let mut bystander = RawClient::login_ok(server.addr, &Login::default()).await;

        // An HTTP request instead of a handshake response: the "length" is
        // plausible but the sequence id is not, so the server answers 1156
        // and closes without waiting for megabytes that never come.
        let mut c = RawClient::connect(server.addr).await;
        c.read_greeting().await;
        c.stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("write");
        assert!(c.closed_by_server().await, "garbage connection stays open");

        // Well-framed garbage as a handshake response: Bad handshake.
        let mut c = RawClient::connect(server.addr).await;
        c.read_greeting().await;
        c.seq = 1;
        c.write_packet(b"\x00\x02this is not a handshake").await;
        let p = c.read_packet().await;
        assert_eq!(parse_err(&p).err_code(), Some(1043));
        assert!(c.closed_by_server().await);

        // Truncated packet followed by EOF.
        let mut c = RawClient::login_ok(server.addr, &Login::default()).await;
        c.stream
            .write_all(&[100, 0, 0, 0, COM_QUERY, b's', b'e'])
            .await
            .expect("write");
        c.stream.shutdown().await.expect("shutdown");
        assert!(c.closed_by_server().await);

        // Out-of-order sequence id in the command phase.
        let mut c = RawClient::login_ok(server.addr, &Login::default()).await;
        c.stream
            .write_all(&frame(5, b"\x03select 1"))
            .await
            .expect("write");
        c.seq = 6;
        let p = c.read_packet().await;
        assert_eq!(parse_err(&p).err_code(), Some(1156));
        assert!(c.closed_by_server().await);

        // Unknown commands and empty packets get an error but keep the
        // connection.
        let mut c = RawClient::login_ok(server.addr, &Login::default()).await;
        c.command(0xEE, b"whatever").await;
        let r = c.read_response(false).await;
        assert_eq!(
            r,
            Response::Err {
                code: 1047,
                state: "08S01".into(),
                message: "Unknown command".into()
            }
        );
        c.command(COM_QUERY, &[0xC3, 0x28]).await; // invalid UTF-8
        assert_eq!(c.read_response(false).await.err_code(), Some(1300));
        c.seq = 0;
        c.stream.write_all(&[0, 0, 0, 0]).await.expect("write");
        c.seq = 1;
        assert_eq!(c.read_response(false).await.err_code(), Some(1835));
        c.command(COM_STMT_EXECUTE, &[1]).await; // truncated execute
        assert_eq!(c.read_response(false).await.err_code(), Some(1835));
        assert_eq!(single_text(&c.query("select 1").await), "1");

        // Nobody else noticed.
        assert_eq!(single_text(&bystander.query("select 2").await), "2");
        let mut fresh = RawClient::login_ok(server.addr, &Login::default()).await;
        assert_eq!(single_text(&fresh.query("select 1").await), "1");
    })
    .await;
}

#[tokio::test]
async fn multi_statements_and_set_option() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let mut c = RawClient::login_ok(server.addr, &Login::default()).await;
        let all = c
            .query_all("select 1; select 2; insert into t values (2); select * from t")
            .await;
        assert_eq!(all.len(), 4);
        assert_eq!(single_text(&all[0]), "1");
        assert_ne!(all[0].status() & MORE_RESULTS, 0);
        assert_eq!(single_text(&all[1]), "2");
        assert!(matches!(
            all[2],
            Response::Ok {
                affected_rows: 3,
                ..
            }
        ));
        assert_ne!(all[2].status() & MORE_RESULTS, 0);
        assert_eq!(all[3].rows().len(), 3);
        assert_eq!(all[3].status() & MORE_RESULTS, 0);

        // An error stops the sequence.
        let all = c.query_all("select 1; bogus; select 2").await;
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].err_code(), Some(1064));
        assert_eq!(single_text(&c.query("select 3").await), "3");

        // Without CLIENT_MULTI_STATEMENTS, multi-statement text is refused
        // before it reaches the handler ...
        for deprecate_eof in [true, false] {
            let mut login = Login::default();
            login.capabilities &= !CLIENT_MULTI_STATEMENTS;
            if !deprecate_eof {
                login.capabilities &= !CLIENT_DEPRECATE_EOF;
            }
            let mut c = RawClient::login_ok(server.addr, &login).await;
            assert_eq!(c.query("select 1; select 2").await.err_code(), Some(1064));
            assert_eq!(single_text(&c.query("select 1;").await), "1");
            // ... until COM_SET_OPTION turns them on.
            c.command(COM_SET_OPTION, &0u16.to_le_bytes()).await;
            let reply = c.read_packet().await;
            assert_eq!(reply[0], 0xFE);
            assert_eq!(reply.len(), if deprecate_eof { 7 } else { 5 });
            assert_eq!(c.query_all("select 1; select 2").await.len(), 2);
            c.command(COM_SET_OPTION, &1u16.to_le_bytes()).await;
            assert_eq!(c.read_packet().await[0], 0xFE);
            assert_eq!(c.query("select 1; select 2").await.err_code(), Some(1064));
            c.command(COM_SET_OPTION, &7u16.to_le_bytes()).await;
            assert_eq!(c.read_response(false).await.err_code(), Some(1047));
        }
    })
    .await;
}

#[tokio::test]
async fn utility_commands() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        for deprecate_eof in [true, false] {
            let mut login = Login::default();
            if !deprecate_eof {
                login.capabilities &= !CLIENT_DEPRECATE_EOF;
            }
            let mut c = RawClient::login_ok(server.addr, &login).await;
            c.command(COM_PING, b"").await;
            assert!(matches!(c.read_response(false).await, Response::Ok { .. }));

            c.command(COM_INIT_DB, b"db2").await;
            assert!(matches!(c.read_response(false).await, Response::Ok { .. }));
            assert_eq!(single_text(&c.query("select database()").await), "db2");
            c.command(COM_INIT_DB, b"nodb").await;
            assert_eq!(c.read_response(false).await.err_code(), Some(1049));

            // COM_FIELD_LIST: just the terminator.
            c.command(COM_FIELD_LIST, b"t\0").await;
            let end = c.read_packet().await;
            assert_eq!(end[0], 0xFE);
            assert_eq!(end.len(), if deprecate_eof { 7 } else { 5 });

            c.command(COM_STATISTICS, b"").await;
            let stats = c.read_packet().await;
            assert!(stats.starts_with(b"Uptime: "), "{stats:?}");

            // Empty query.
            assert_eq!(c.query("   ").await.err_code(), Some(1065));

            // COM_RESET_CONNECTION drops prepared statements.
            let (id, _, _) = c.prepare("select 1").await.expect("prepare");
            let before = server.handler.resets.load(Ordering::SeqCst);
            c.command(COM_RESET_CONNECTION, b"").await;
            assert!(matches!(c.read_response(false).await, Response::Ok { .. }));
            assert_eq!(server.handler.resets.load(Ordering::SeqCst), before + 1);
            c.command(COM_STMT_EXECUTE, &execute_body(id, &[], false))
                .await;
            assert_eq!(c.read_response(true).await.err_code(), Some(1243));

            // COM_QUIT: no reply, connection closed, session closed.
            let closed_before = server.handler.closed.load(Ordering::SeqCst);
            c.command(COM_QUIT, b"").await;
            assert!(c.closed_by_server().await);
            let handler = server.handler.clone();
            eventually("session close", || {
                handler.closed.load(Ordering::SeqCst) > closed_before
            })
            .await;
        }
    })
    .await;
}

fn date(y: u16, m: u8, d: u8) -> Vec<u8> {
    let mut v = vec![4];
    v.extend_from_slice(&y.to_le_bytes());
    v.extend_from_slice(&[m, d]);
    v
}

#[tokio::test]
async fn prepared_statements_use_the_binary_protocol() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        for deprecate_eof in [true, false] {
            let mut login = Login::default();
            if !deprecate_eof {
                login.capabilities &= !CLIENT_DEPRECATE_EOF;
            }
            let mut c = RawClient::login_ok(server.addr, &login).await;

            // A typed multi-row result in binary rows.
            let (id, columns, params) = c.prepare("select * from t where id > ?").await.expect("prepare");
            assert_eq!((columns, params), (0, 1));
            let body = execute_body(id, &[Param::Typed(0x08, false, 0i64.to_le_bytes().to_vec())], true);
            c.command(COM_STMT_EXECUTE, &body).await;
            let r = c.read_response(true).await;
            let rows = r.rows();
            assert_eq!(rows.len(), 3);
            assert_eq!(
                rows[0],
                vec![
                    Cell::Int(1),
                    Cell::text("alice"),
                    Cell::F64(1.5),
                    Cell::DateTime(2024, 1, 2, 0, 0, 0, 0),
                    Cell::DateTime(2024, 1, 2, 3, 4, 5, 0),
                    Cell::Null,
                    Cell::text("10.50"),
                    Cell::Int(-7),
                    Cell::F32(0.25),
                ]
            );
            assert_eq!(rows[1][4], Cell::DateTime(1999, 12, 31, 23, 59, 59, 500_000));
            assert_eq!(rows[1][7], Cell::Int(127));
            assert_eq!(rows[2][2], Cell::F64(1e300));
            assert_eq!(rows[2][4], Cell::DateTime(2000, 2, 29, 0, 0, 0, 0));
            assert_eq!(rows[2][7], Cell::Null);

            // Parameters of many types, substituted as SQL literals.
            let (id, _, params) = c
                .prepare("echo ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '?', ?")
                .await
                .expect("prepare");
            assert_eq!(params, 11);
            let mut dt = vec![11];
            dt.extend_from_slice(&2024u16.to_le_bytes());
            dt.extend_from_slice(&[1, 2, 3, 4, 5]);
            dt.extend_from_slice(&6u32.to_le_bytes());
            let first = [
                Param::Typed(0x01, false, vec![0xFB]),
                Param::Typed(0x08, true, u64::MAX.to_le_bytes().to_vec()),
                Param::Typed(0x05, false, 2.5f64.to_le_bytes().to_vec()),
                Param::Typed(0xfd, false, lenenc_value("it's \\ \"q\"".as_bytes())),
                Param::Null,
                Param::Typed(0x0a, false, date(2024, 1, 2)),
                Param::Typed(0x0c, false, dt),
                Param::Typed(0xfc, false, lenenc_value(&[0xFF, 0x00])),
                Param::Typed(0xf6, false, lenenc_value(b"-12.345")),
                Param::Typed(0x0b, false, vec![8, 0, 1, 0, 0, 0, 2, 3, 4]),
                Param::Typed(0x04, false, 0.5f32.to_le_bytes().to_vec()),
            ];
            c.command(COM_STMT_EXECUTE, &execute_body(id, &first, true)).await;
            let r = c.read_response(true).await;
            assert_eq!(
                single_text(&r),
                "echo -5, 18446744073709551615, 2.5, 'it''s \\\\ \"q\"', NULL, '2024-01-02', \
                 '2024-01-02 03:04:05.000006', X'FF00', -12.345, '26:03:04', '?', 0.5"
            );

            // Second execution: types remembered (new-params-bound = 0).
            let second = [
                Param::Typed(0x01, false, vec![7]),
                Param::Typed(0x08, true, 1u64.to_le_bytes().to_vec()),
                Param::Typed(0x05, false, (-0.125f64).to_le_bytes().to_vec()),
                Param::Typed(0xfd, false, lenenc_value(b"")),
                Param::Null,
                Param::Typed(0x0a, false, vec![0]),
                Param::Null,
                Param::Typed(0xfc, false, lenenc_value(b"text")),
                Param::Typed(0xf6, false, lenenc_value(b"1 OR 1=1")),
                Param::Typed(0x0b, false, vec![0]),
                Param::Null,
            ];
            c.command(COM_STMT_EXECUTE, &execute_body(id, &second, false)).await;
            let r = c.read_response(true).await;
            assert_eq!(
                single_text(&r),
                "echo 7, 1, -0.125, '', NULL, '0000-00-00', NULL, 'text', '1 OR 1=1', '00:00:00', '?', NULL"
            );

            // Long data for the string parameter (index 3), then execute.
            let mut ld = id.to_le_bytes().to_vec();
            ld.extend_from_slice(&3u16.to_le_bytes());
            ld.extend_from_slice(b"long ");
            c.command(COM_STMT_SEND_LONG_DATA, &ld).await;
            let mut ld2 = id.to_le_bytes().to_vec();
            ld2.extend_from_slice(&3u16.to_le_bytes());
            ld2.extend_from_slice(b"data");
            c.command(COM_STMT_SEND_LONG_DATA, &ld2).await;
            let third = [
                Param::Typed(0x01, false, vec![1]),
                Param::Typed(0x08, true, 2u64.to_le_bytes().to_vec()),
                Param::Typed(0x05, false, 3f64.to_le_bytes().to_vec()),
                Param::Typed(0xfd, false, vec![]), // comes from long data
                Param::Null,
                Param::Null,
                Param::Null,
                Param::Null,
                Param::Null,
                Param::Null,
                Param::Null,
            ];
            c.command(COM_STMT_EXECUTE, &execute_body(id, &third, true)).await;
            let r = c.read_response(true).await;
            assert_eq!(
                single_text(&r),
                "echo 1, 2, 3, 'long data', NULL, NULL, NULL, NULL, NULL, NULL, '?', NULL"
            );

            // COM_STMT_RESET answers OK; unknown ids answer 1243.
            c.command(COM_STMT_RESET, &id.to_le_bytes()).await;
            assert!(matches!(c.read_response(false).await, Response::Ok { .. }));
            c.command(COM_STMT_RESET, &999u32.to_le_bytes()).await;
            assert_eq!(c.read_response(false).await.err_code(), Some(1243));

            // An OK outcome and an error through EXECUTE.
            let (ins, _, _) = c.prepare("insert into t values (?)").await.expect("prepare");
            c.command(
                COM_STMT_EXECUTE,
                &execute_body(ins, &[Param::Typed(0x03, false, 5i32.to_le_bytes().to_vec())], true),
            )
            .await;
            assert!(matches!(
                c.read_response(true).await,
                Response::Ok { affected_rows: 3, last_insert_id: 7, .. }
            ));
            let (bad, _, _) = c.prepare("bogus ?").await.expect("prepare");
            c.command(COM_STMT_EXECUTE, &execute_body(bad, &[Param::Null], true)).await;
            assert_eq!(c.read_response(true).await.err_code(), Some(1064));

            // Prepare refuses multiple statements.
            assert_eq!(c.prepare("select 1; select 2").await.err().and_then(|e| e.err_code()), Some(1064));

            // COM_STMT_CLOSE has no reply; the id is gone afterwards.
            c.command(COM_STMT_CLOSE, &id.to_le_bytes()).await;
            c.command(COM_STMT_EXECUTE, &execute_body(id, &[], false)).await;
            assert_eq!(c.read_response(true).await.err_code(), Some(1243));
            // The text protocol still works on the same connection.
            assert_eq!(single_text(&c.query("select 1").await), "1");
        }
    })
    .await;
}
