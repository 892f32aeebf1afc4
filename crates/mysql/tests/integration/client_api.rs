//! `tessera_mysql::client::Client` against the crate's own server (the test
//! handler in `support`), and against scripted fake servers for what our
//! server never sends: AuthSwitchRequest, classic EOF packets, LOCAL INFILE
//! requests and garbage.

use std::net::SocketAddr;
use std::time::Duration;

use tessera_mysql::ServerConfig;
use tessera_mysql::client::{Client, ClientError};
use tessera_mysql::{scramble_native_password, verify_native_password};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::client::{frame, lenenc_int, lenenc_str};
use crate::support::{bounded, eventually, start};

async fn connect(addr: SocketAddr, user: &str, pw: &str, db: Option<&str>) -> Client {
    match Client::connect(&addr.to_string(), user, pw, db).await {
        Ok(c) => c,
        Err(e) => panic!("connect as {user}: {e}"),
    }
}

async fn connect_err(addr: SocketAddr, user: &str, pw: &str, db: Option<&str>) -> ClientError {
    match Client::connect(&addr.to_string(), user, pw, db).await {
        Ok(_) => panic!("login as {user} should fail"),
        Err(e) => e,
    }
}

/// Callers run clients inside spawned tasks, so the client and its futures
/// must be `Send`; this fails to compile otherwise.
#[test]
fn client_and_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let connect = Client::connect("127.0.0.1:1", "root", "", None);
    assert_send(&connect);
    fn with_client(c: &mut Client) {
        assert_send(c);
        assert_send(&c.query("select 1"));
        assert_send(&c.ping());
    }
    let _ = with_client;
}

#[tokio::test]
async fn login_ok_and_denied() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let mut root = connect(server.addr, "root", "", None).await;
        let r = root.query("select 1").await.expect("select 1");
        assert_eq!(r.columns, vec!["1".to_owned()]);
        assert_eq!(r.rows, vec![vec![Some("1".to_owned())]]);
        root.close().await;

        let mut u1 = connect(server.addr, "u1", "p1", None).await;
        u1.ping().await.expect("ping");
        u1.close().await;

        let e = connect_err(server.addr, "u1", "wrong", None).await;
        assert_eq!(e.code, 1045, "{e}");
        assert_eq!(e.sql_state, "28000");
        assert!(e.message.contains("Access denied"), "{e}");
        assert!(e.to_string().starts_with("ERROR 1045 (28000): "), "{e}");
        let e = connect_err(server.addr, "nobody", "", None).await;
        assert_eq!(e.code, 1045);
        // A password for a user that has none is also refused.
        let e = connect_err(server.addr, "root", "x", None).await;
        assert_eq!(e.code, 1045);
    })
    .await;
}

#[tokio::test]
async fn initial_database() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let mut c = connect(server.addr, "u1", "p1", Some("db1")).await;
        let r = c.query("select database()").await.expect("query");
        assert_eq!(r.rows, vec![vec![Some("db1".to_owned())]]);
        let mut c = connect(server.addr, "root", "", None).await;
        let r = c.query("select database()").await.expect("query");
        assert_eq!(r.rows, vec![vec![None]]);
        let e = connect_err(server.addr, "root", "", Some("nodb")).await;
        assert_eq!((e.code, e.sql_state.as_str()), (1049, "42000"));
    })
    .await;
}

#[tokio::test]
async fn result_sets_ok_packets_and_errors() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let mut c = connect(server.addr, "root", "", None).await;

        let r = c.query("select * from t").await.expect("table t");
        assert_eq!(
            r.columns,
            [
                "id", "name", "price", "day", "ts", "note", "amount", "small", "ratio"
            ]
        );
        assert_eq!(r.rows.len(), 3);
        assert_eq!(r.affected_rows, 0);
        let cell = |row: usize, col: usize| r.rows[row][col].as_deref();
        assert_eq!(cell(0, 1), Some("alice"));
        assert_eq!(cell(0, 4), Some("2024-01-02 03:04:05"));
        assert_eq!(cell(0, 5), None, "NULL note");
        assert_eq!(cell(1, 6), Some("-3.00"));
        assert_eq!(cell(2, 1), Some("Zoë"));
        assert_eq!(cell(2, 5), Some("it's"));
        assert_eq!(cell(2, 7), None, "NULL small");
        assert!(r.rows.iter().all(|row| row.len() == 9));

        let r = c
            .query("insert into t values (1), (2), (3)")
            .await
            .expect("insert");
        assert_eq!(r.affected_rows, 3);
        assert!(r.columns.is_empty() && r.rows.is_empty());
        let r = c.query("set autocommit = 1").await.expect("set");
        assert_eq!(r.affected_rows, 0);

        let e = c.query("selec 1").await.expect_err("syntax error");
        assert_eq!((e.code, e.sql_state.as_str()), (1064, "42000"));
        assert!(e.message.contains("selec 1"), "{e}");
        // An ERR reply leaves the connection usable.
        c.ping().await.expect("ping after error");
        let r = c.query("select 2").await.expect("select 2");
        assert_eq!(r.rows, vec![vec![Some("2".to_owned())]]);
        // Multi-statements are not enabled, so the server refuses them.
        let e = c.query("select 1; select 2").await.expect_err("multi");
        assert_ne!(e.code, 0, "{e}");
        c.ping().await.expect("still usable");
    })
    .await;
}

#[tokio::test]
async fn large_statement_and_cell_cross_packet_boundaries() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let mut c = connect(server.addr, "root", "", None).await;
        // More than 16 MiB each way: split packets on send and on receive.
        let sql = format!("echo {}", "x".repeat(0xFF_FFFF + 100));
        let r = c.query(&sql).await.expect("echo");
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0][0].as_deref().map(str::len), Some(sql.len()));
        assert!(r.rows[0][0].as_deref() == Some(sql.as_str()));
        c.ping().await.expect("ping");
    })
    .await;
}

#[tokio::test]
async fn close_sends_quit_and_ping_fails_on_dead_server() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let c = connect(server.addr, "root", "", None).await;
        c.close().await;
        let handler = server.handler.clone();
        eventually("session closed", || {
            handler.closed.load(std::sync::atomic::Ordering::SeqCst) == 1
        })
        .await;

        // A server that hangs up after login: ping fails with code 0, and
        // the connection then refuses further use at once.
        let addr = fake_server(|mut s| async move {
            login_ok(&mut s, CAPS).await;
        })
        .await;
        let mut c = connect(addr, "root", "", None).await;
        let e = c.ping().await.expect_err("server gone");
        assert_eq!(e.code, 0, "{e}");
        let e = c.query("select 1").await.expect_err("broken");
        assert_eq!(e.code, 0);
        assert!(e.message.contains("reconnect"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn connect_failures_are_bounded_and_code_zero() {
    bounded(async {
        // Nothing listens: take a port and release it.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let e = connect_err(addr, "root", "", None).await;
        assert_eq!(e.code, 0, "{e}");
        assert_eq!(e.sql_state, "08S01");

        // Accepts but never greets: connect_timeout gives up in time.
        let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = silent.local_addr().expect("addr");
        let t0 = std::time::Instant::now();
        let r = Client::connect_timeout(
            &addr.to_string(),
            "root",
            "",
            None,
            Duration::from_millis(300),
        )
        .await;
        let e = r.expect_err("timeout");
        assert_eq!(e.code, 0);
        assert!(e.message.contains("timed out"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(5));
        drop(silent);

        let e = Client::connect("not an address", "root", "", None)
            .await
            .expect_err("bad address");
        assert_eq!(e.code, 0);
    })
    .await;
}

// ---- scripted fake servers ------------------------------------------------

const PROTOCOL_41: u32 = 1 << 9;
const SECURE_CONNECTION: u32 = 1 << 15;
const PLUGIN_AUTH: u32 = 1 << 19;
const DEPRECATE_EOF: u32 = 1 << 24;
const CONNECT_WITH_DB: u32 = 1 << 3;
const CAPS: u32 = PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | DEPRECATE_EOF | CONNECT_WITH_DB;

/// Accepts one connection on an ephemeral port and runs `script` on it.
async fn fake_server<F, Fut>(script: F) -> SocketAddr
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        if let Ok((s, _)) = listener.accept().await {
            script(s).await;
        }
    });
    addr
}

fn greeting(caps: u32, scramble: &[u8; 20], plugin: &str) -> Vec<u8> {
    let mut p = vec![10];
    p.extend_from_slice(b"8.0.99-fake\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(&scramble[..8]);
    p.push(0);
    p.extend_from_slice(&(caps as u16).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(&scramble[8..]);
    p.push(0);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p
}

/// Reads one packet (no splitting: the client's are small here).
async fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.ok()?;
    let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.ok()?;
    Some((h[3], body))
}

async fn send(s: &mut TcpStream, seq: u8, payload: &[u8]) {
    let _ = s.write_all(&frame(seq, payload)).await;
}

const OK: &[u8] = &[0, 0, 0, 2, 0, 0, 0];

/// Greets with `caps`, accepts any login, and returns.
async fn login_ok(s: &mut TcpStream, caps: u32) {
    send(
        s,
        0,
        &greeting(caps, b"abcdefghijklmnopqrst", "mysql_native_password"),
    )
    .await;
    let _ = read_packet(s).await;
    send(s, 2, OK).await;
}

/// The user, auth response and caps of a HandshakeResponse41 (SECURE_CONNECTION form).
fn parse_login(p: &[u8]) -> (u32, String, Vec<u8>) {
    let caps = u32::from_le_bytes(p[..4].try_into().expect("caps"));
    let rest = &p[32..];
    let nul = rest.iter().position(|&b| b == 0).expect("user NUL");
    let user = String::from_utf8_lossy(&rest[..nul]).into_owned();
    let n = usize::from(rest[nul + 1]);
    let auth = rest[nul + 2..nul + 2 + n].to_vec();
    (caps, user, auth)
}

#[tokio::test]
async fn follows_auth_switch_to_native_password() {
    bounded(async {
        let stored = tessera_mysql::native_password_hash("secret").expect("hash");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let addr = fake_server(move |mut s| async move {
            // Announce a different default plugin, then switch the client.
            send(
                &mut s,
                0,
                &greeting(CAPS, b"abcdefghijklmnopqrst", "caching_sha2_password"),
            )
            .await;
            let (_, login) = read_packet(&mut s).await.expect("login");
            let (caps, user, first_auth) = parse_login(&login);
            let second = *b"ZYXWVUTSRQPONMLKJIHG";
            let mut switch = b"\xfemysql_native_password\0".to_vec();
            switch.extend_from_slice(&second);
            switch.push(0);
            send(&mut s, 2, &switch).await;
            let (seq, auth) = read_packet(&mut s).await.expect("auth data");
            let ok = verify_native_password(&second, &auth, Some(&stored));
            let _ = tx.send((caps, user, first_auth, seq, ok));
            if ok {
                send(&mut s, 4, OK).await;
            }
            // COM_PING -> OK.
            if let Some((0, p)) = read_packet(&mut s).await
                && p == [0x0e]
            {
                send(&mut s, 1, OK).await;
            }
            let _ = read_packet(&mut s).await;
        })
        .await;
        let mut c = connect(addr, "u", "secret", None).await;
        c.ping().await.expect("ping");
        let (caps, user, first_auth, seq, ok) = rx.await.expect("script ran");
        assert!(ok, "switched auth response verifies");
        assert_eq!(seq, 3);
        assert_eq!(user, "u");
        assert_eq!(
            first_auth,
            scramble_native_password(b"abcdefghijklmnopqrst", "secret")
        );
        for flag in [PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, DEPRECATE_EOF] {
            assert_ne!(caps & flag, 0, "flag {flag:#x} sent");
        }
        assert_eq!(caps & CONNECT_WITH_DB, 0, "no database given");
        c.close().await;

        // A switch to a plugin we do not speak is a clean error.
        let addr = fake_server(|mut s| async move {
            send(&mut s, 0, &greeting(CAPS, b"abcdefghijklmnopqrst", "x")).await;
            let _ = read_packet(&mut s).await;
            send(
                &mut s,
                2,
                b"\xfecaching_sha2_password\0abcdefghijklmnopqrst\0",
            )
            .await;
            let _ = read_packet(&mut s).await;
        })
        .await;
        let e = connect_err(addr, "u", "secret", None).await;
        assert_eq!(e.code, 0);
        assert!(e.message.contains("caching_sha2_password"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn classic_eof_result_set_and_declined_local_infile() {
    bounded(async {
        let caps = PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH; // no DEPRECATE_EOF
        let addr = fake_server(move |mut s| async move {
            login_ok(&mut s, caps).await;
            // Query 1: two columns, EOF, two rows, EOF.
            let _ = read_packet(&mut s).await;
            let mut seq = 1;
            let mut out = Vec::new();
            let mut push = |p: &[u8]| {
                out.extend(frame(seq, p));
                seq += 1;
            };
            push(&[2]);
            for name in ["a", "b"] {
                let mut col = Vec::new();
                for part in ["def", "", "t", "t", name, name] {
                    lenenc_str(&mut col, part.as_bytes());
                }
                col.extend_from_slice(&[0x0C, 45, 0, 10, 0, 0, 0, 253, 0, 0, 0, 0, 0]);
                push(&col);
            }
            push(&[0xFE, 0, 0, 2, 0]);
            let mut row = Vec::new();
            lenenc_str(&mut row, b"x");
            row.push(0xFB);
            push(&row);
            let mut row = Vec::new();
            row.push(0xFB);
            lenenc_str(&mut row, &[b'y'; 300]);
            push(&row);
            push(&[0xFE, 0, 0, 2, 0]);
            let _ = s.write_all(&out).await;
            // Query 2: a LOCAL INFILE request; the client must decline with
            // an empty packet, then we refuse.
            let _ = read_packet(&mut s).await;
            send(&mut s, 1, b"\xfb/etc/passwd").await;
            let declined = read_packet(&mut s).await;
            assert_eq!(declined, Some((2, Vec::new())));
            send(&mut s, 3, b"\xff\x94\x0f#HY000LOAD DATA LOCAL refused").await;
            // Query 3: OK with affected rows 300 (lenenc 0xFC).
            let _ = read_packet(&mut s).await;
            let mut ok = vec![0];
            lenenc_int(&mut ok, 300);
            ok.extend_from_slice(&[0, 2, 0, 0, 0]);
            send(&mut s, 1, &ok).await;
            let _ = read_packet(&mut s).await;
        })
        .await;
        let mut c = connect(addr, "root", "", None).await;
        let r = c.query("q1").await.expect("rows");
        assert_eq!(r.columns, ["a", "b"]);
        assert_eq!(
            r.rows,
            vec![
                vec![Some("x".to_owned()), None],
                vec![None, Some("y".repeat(300))]
            ]
        );
        let e = c
            .query("load data local infile")
            .await
            .expect_err("refused");
        assert_eq!(e.code, 3988);
        let r = c.query("q3").await.expect("ok");
        assert_eq!(r.affected_rows, 300);
        c.close().await;
    })
    .await;
}

/// xorshift64*, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() % (max as u64 + 1)) as usize;
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Mutates a valid payload: flips, truncates, or replaces it.
fn mutate(rng: &mut Rng, valid: &[u8]) -> Vec<u8> {
    let mut p = valid.to_vec();
    match rng.next() % 4 {
        0 => p.truncate((rng.next() % (p.len() as u64 + 1)) as usize),
        1 => {
            for _ in 0..1 + rng.next() % 4 {
                if !p.is_empty() {
                    let i = (rng.next() % p.len() as u64) as usize;
                    p[i] = rng.next() as u8;
                }
            }
        }
        2 => p = rng.bytes(64),
        _ => {
            // Lying lenenc lengths.
            p.push(0xFE);
            p.extend_from_slice(&(rng.next() | 1 << 62).to_le_bytes());
        }
    }
    p
}

#[tokio::test]
async fn malformed_server_input_is_an_error_not_a_panic() {
    bounded(async {
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        let valid_greeting = greeting(CAPS, b"abcdefghijklmnopqrst", "mysql_native_password");
        // Bad greetings.
        for _ in 0..100 {
            let g = mutate(&mut rng, &valid_greeting);
            let addr = fake_server(move |mut s| async move {
                send(&mut s, 0, &g).await;
                if read_packet(&mut s).await.is_some() {
                    send(&mut s, 2, OK).await;
                    let _ = read_packet(&mut s).await;
                }
            })
            .await;
            let r = Client::connect_timeout(
                &addr.to_string(),
                "root",
                "",
                None,
                Duration::from_secs(5),
            )
            .await;
            if let Err(e) = r {
                assert!(!e.message.contains("timed out"), "hung: {e}");
            }
        }
        // Bad query responses: a result set with one part mangled.
        let mut col = Vec::new();
        for part in ["def", "", "t", "t", "a", "a"] {
            lenenc_str(&mut col, part.as_bytes());
        }
        col.extend_from_slice(&[0x0C, 45, 0, 10, 0, 0, 0, 253, 0, 0, 0, 0, 0]);
        let mut row = Vec::new();
        lenenc_str(&mut row, b"value");
        let valid: Vec<Vec<u8>> = vec![vec![1], col, row, vec![0xFE, 0, 0, 2, 0, 0, 0]];
        for round in 0..200 {
            let mut packets = valid.clone();
            let i = round % packets.len();
            packets[i] = mutate(&mut rng, &packets[i]);
            let addr = fake_server(move |mut s| async move {
                login_ok(&mut s, CAPS).await;
                let _ = read_packet(&mut s).await;
                let mut out = Vec::new();
                for (n, p) in packets.iter().enumerate() {
                    out.extend(frame(n as u8 + 1, p));
                }
                let _ = s.write_all(&out).await;
                // Then hang up, so a client still waiting sees EOF.
            })
            .await;
            let mut c = connect(addr, "root", "", None).await;
            let _ = tokio::time::timeout(Duration::from_secs(5), c.query("select a"))
                .await
                .expect("query did not hang");
        }
        // A header promising a big packet whose body never comes: the
        // server hangs up and the client reports it.
        let addr = fake_server(|mut s| async move {
            login_ok(&mut s, CAPS).await;
            let _ = read_packet(&mut s).await;
            let _ = s.write_all(&[0xFF, 0xFF, 0xFF, 1, b'x', b'y']).await;
        })
        .await;
        let mut c = connect(addr, "root", "", None).await;
        let e = c.query("select a").await.expect_err("truncated");
        assert_eq!(e.code, 0);
        assert!(e.message.contains("closed"), "{e}");
        // A column count far over the limit.
        let addr = fake_server(|mut s| async move {
            login_ok(&mut s, CAPS).await;
            let _ = read_packet(&mut s).await;
            let mut p = Vec::new();
            lenenc_int(&mut p, u64::MAX >> 1);
            send(&mut s, 1, &p).await;
            // Hold the connection (bounded) until the client hangs up, so its error is about
            // the column count, not a closed socket.
            let _ = tokio::time::timeout(Duration::from_secs(10), read_packet(&mut s)).await;
        })
        .await;
        let mut c = connect(addr, "root", "", None).await;
        let e = c.query("select a").await.expect_err("too many columns");
        assert!(e.message.contains("columns"), "{e}");
    })
    .await;
}
