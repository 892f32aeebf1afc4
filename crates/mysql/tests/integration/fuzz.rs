//! Random input at every stage of a connection: the server must answer or
//! close, never panic or hang. Deterministic (fixed seeds) so failures
//! reproduce.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tessera_mysql::{ServerConfig, serve_connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::client::*;
use crate::support::{TestHandler, bounded};

/// xorshift64*: tiny deterministic generator, good enough for fuzzing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Runs one connection over an in-memory pipe: `script` gets the client end;
/// the server's output is drained in the background. Returns whether the
/// server task finished without panicking, and whether a session was opened.
async fn run<F, Fut>(config: ServerConfig, script: F) -> (bool, bool)
where
    F: FnOnce(tokio::io::WriteHalf<DuplexStream>) -> Fut,
    Fut: Future<Output = ()>,
{
    let (client, server) = tokio::io::duplex(1 << 16);
    let handler = Arc::new(TestHandler::new());
    let observer = handler.clone();
    let peer = SocketAddr::from(([127, 0, 0, 1], 4000));
    let task = tokio::spawn(async move {
        let _ = serve_connection(handler, server, 1, peer, &config).await;
    });
    let (mut rd, wr) = tokio::io::split(client);
    let drain = tokio::spawn(async move {
        let mut sink = vec![0u8; 1 << 16];
        while let Ok(n) = rd.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    });
    script(wr).await;
    let finished = tokio::time::timeout(Duration::from_secs(10), task).await;
    drain.abort();
    let logged_in = observer.closed.load(Ordering::SeqCst) > 0;
    (matches!(finished, Ok(Ok(()))), logged_in)
}

fn login_packet() -> Vec<u8> {
    let caps = CLIENT_PROTOCOL_41
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH
        | CLIENT_PLUGIN_AUTH_LENENC
        | CLIENT_DEPRECATE_EOF
        | CLIENT_MULTI_STATEMENTS
        | CLIENT_MULTI_RESULTS;
    let mut p = Vec::new();
    p.extend_from_slice(&caps.to_le_bytes());
    p.extend_from_slice(&(1u32 << 24).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0; 23]);
    p.extend_from_slice(b"root\0\0mysql_native_password\0");
    frame(1, &p)
}

fn small() -> ServerConfig {
    ServerConfig {
        max_packet_bytes: 4096,
        ..ServerConfig::default()
    }
}

#[tokio::test]
async fn random_bytes_before_login() {
    bounded(async {
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        for _ in 0..200 {
            let junk = rng.bytes(300);
            let framed = rng.below(2) == 0;
            let (ok, _) = run(small(), |mut w| async move {
                let bytes = if framed { frame(1, &junk) } else { junk };
                let _ = w.write_all(&bytes).await;
                let _ = w.shutdown().await;
            })
            .await;
            assert!(ok, "server panicked or hung");
        }
    })
    .await;
}

#[tokio::test]
async fn random_commands_after_login() {
    bounded(async {
        let mut rng = Rng(0x0DDB_A11C_0FFE_E123);
        let commands = [
            COM_QUIT,
            COM_INIT_DB,
            COM_QUERY,
            COM_FIELD_LIST,
            COM_STATISTICS,
            COM_PING,
            COM_STMT_PREPARE,
            COM_STMT_EXECUTE,
            COM_STMT_SEND_LONG_DATA,
            COM_STMT_CLOSE,
            COM_STMT_RESET,
            COM_SET_OPTION,
            COM_RESET_CONNECTION,
            0x11,
            0xFF,
        ];
        let mut sessions = 0;
        for _ in 0..1000 {
            let mut stream = login_packet();
            // Statement 1 with three placeholders, so EXECUTE bodies that
            // start with id 1 reach the parameter decoder.
            stream.extend(command_packet(COM_STMT_PREPARE, b"select ?, ?, ?"));
            for _ in 0..rng.below(12) {
                let cmd = commands[rng.below(commands.len())];
                let mut body = rng.bytes(64);
                if matches!(cmd, COM_STMT_EXECUTE | COM_STMT_SEND_LONG_DATA) && body.len() >= 4 {
                    body[..4].copy_from_slice(&1u32.to_le_bytes());
                }
                stream.extend(command_packet(cmd, &body));
            }
            // Sometimes cut the stream short in the middle of a packet.
            if rng.below(4) == 0 {
                let cut = rng.below(stream.len());
                stream.truncate(cut);
            }
            let (ok, logged_in) = run(small(), |mut w| async move {
                let _ = w.write_all(&stream).await;
                let _ = w.shutdown().await;
            })
            .await;
            assert!(ok, "server panicked or hung");
            sessions += usize::from(logged_in);
        }
        // Most runs must get past the login, or this fuzzes nothing.
        assert!(
            sessions > 500,
            "only {sessions} runs reached the command phase"
        );
    })
    .await;
}
