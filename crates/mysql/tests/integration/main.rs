//! End-to-end tests of `tessera-mysql`: a small test `Handler` behind the real
//! `serve_connection` on 127.0.0.1, driven by the `mysql` CLI, an independent
//! raw-socket client, the crate's own `client::Client`, and PyMySQL when it
//! is installed.

mod cli;
mod client;
mod client_api;
mod fuzz;
mod raw;
mod support;
mod tls;

/// The FE spawns one task per connection, so the connection future must be
/// `Send`; this fails to compile if it ever stops being so.
#[test]
fn serve_connection_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let handler = std::sync::Arc::new(support::MinimalHandler);
    let config = tessera_mysql::ServerConfig::default();
    let (a, _b) = tokio::io::duplex(64);
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
    let fut = tessera_mysql::serve_connection(handler, a, 1, peer, &config);
    assert_send(&fut);
}
