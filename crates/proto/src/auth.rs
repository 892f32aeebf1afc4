//! The cluster token on internal RPC.
//!
//! Every internal call carries the cluster's secret token in the [`TOKEN_HEADER`] metadata
//! entry; every internal gRPC service is wrapped in [`Guarded`], which answers a call with a
//! missing or different token `Unauthenticated` before the service sees it. Only the methods
//! a wrapper lists as open (a frontend's `Join`, which checks membership itself, and a
//! backend's `Heartbeat`, which checks the token in its body) pass without one.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use tonic::body::Body;
use tonic::codegen::BoxFuture;
use tonic::codegen::Context;
use tonic::codegen::Poll;
use tonic::codegen::Service;
use tonic::codegen::http;
use tonic::server::NamedService;

/// gRPC metadata key that carries the cluster token.
pub const TOKEN_HEADER: &str = "x-tessera-token";

/// Why a call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The call carried no token.
    Missing,
    /// The call carried a token that is not this cluster's.
    Unmatched,
    /// This node does not know the cluster token yet (a backend before its first heartbeat).
    NotJoined,
    /// A frontend that nobody ALTER SYSTEM ADDed asked to join (it gets no token).
    Unregistered,
    /// A node of another cluster (its cluster id differs) asked to join.
    OtherCluster,
}

impl Refused {
    /// A short label (logs and metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Missing => "missing_token",
            Refused::Unmatched => "unmatched_token",
            Refused::NotJoined => "not_joined",
            Refused::Unregistered => "unregistered_node",
            Refused::OtherCluster => "cluster_id_mismatch",
        }
    }

    /// The text the caller gets.
    pub fn message(self, service: &str, method: &str) -> String {
        match self {
            Refused::Missing => format!(
                "invalid token: the call to {service}/{method} carries no cluster token; only \
                 the frontends and backends of this cluster may call it"
            ),
            Refused::Unmatched => format!(
                "Unmatched token: the call to {service}/{method} carries a token that is not \
                 this cluster's; only the frontends and backends of this cluster may call it"
            ),
            Refused::NotJoined => format!(
                "invalid token: this backend does not belong to a cluster yet and refuses \
                 {service}/{method}; it accepts calls only after the leader frontend's first \
                 heartbeat (ALTER SYSTEM ADD BACKEND)"
            ),
            Refused::Unregistered => format!(
                "invalid token: {service}/{method} from a node that is not a registered \
                 frontend or backend of this cluster"
            ),
            Refused::OtherCluster => {
                format!("invalid token: {service}/{method} from a node of another cluster")
            }
        }
    }
}

/// One refused call, as the guard reports it.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// The caller's address, when the server knows it.
    pub peer: Option<SocketAddr>,
    /// The service's short name (`RaftService`, `FlightService`, ...).
    pub service: &'static str,
    /// The method when it is one of the service's, else `other`.
    pub method: &'static str,
    /// Why.
    pub reason: Refused,
}

impl Refusal {
    /// Logs the refusal as a warning: the caller, the service and method, why (never a token).
    pub fn log(&self) {
        let peer = self
            .peer
            .map(|p| p.to_string())
            .unwrap_or_else(|| "unknown".to_string());
        tracing::warn!(
            %peer,
            service = self.service,
            method = self.method,
            reason = self.reason.as_str(),
            "refused an internal call from {peer} to {}/{}: {}",
            self.service,
            self.method,
            self.reason.as_str()
        );
    }
}

/// Compares two tokens in time that depends on their lengths only.
pub fn tokens_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

type Expected = Arc<dyn Fn() -> Option<Arc<str>> + Send + Sync>;
type OnRefuse = Arc<dyn Fn(&Refusal) + Send + Sync>;

/// The check one node applies to its internal servers.
#[derive(Clone)]
pub struct TokenGuard {
    expected: Expected,
    on_refuse: OnRefuse,
}

impl TokenGuard {
    /// A guard comparing calls' tokens with `expected()` (`None`: this node knows no token yet
    /// and refuses everything guarded); `on_refuse` logs and counts each refusal.
    pub fn new(
        expected: impl Fn() -> Option<Arc<str>> + Send + Sync + 'static,
        on_refuse: impl Fn(&Refusal) + Send + Sync + 'static,
    ) -> TokenGuard {
        TokenGuard {
            expected: Arc::new(expected),
            on_refuse: Arc::new(on_refuse),
        }
    }

    /// Checks the token a call's headers carry.
    pub fn verify(&self, headers: &http::HeaderMap) -> Result<(), Refused> {
        let Some(ours) = (self.expected)() else {
            return Err(Refused::NotJoined);
        };
        match headers.get(TOKEN_HEADER) {
            None => Err(Refused::Missing),
            Some(v) if tokens_equal(v.as_bytes(), ours.as_bytes()) => Ok(()),
            Some(_) => Err(Refused::Unmatched),
        }
    }

    /// Reports a refusal that a service found itself (e.g. a token in a message body).
    pub fn report(&self, refusal: &Refusal) {
        (self.on_refuse)(refusal)
    }

    /// Wraps a generated server: calls to methods outside `open` need the token. `methods` lists
    /// the service's methods (the metric label of any other path is `other`).
    pub fn wrap<S>(
        &self,
        inner: S,
        methods: &'static [&'static str],
        open: &'static [&'static str],
    ) -> Guarded<S> {
        Guarded {
            inner,
            guard: self.clone(),
            methods,
            open,
        }
    }
}

/// A gRPC service behind a [`TokenGuard`].
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    guard: TokenGuard,
    methods: &'static [&'static str],
    open: &'static [&'static str],
}

/// The short name of a service (`tessera.RaftService` → `RaftService`).
pub fn short_name(full: &'static str) -> &'static str {
    full.rsplit('.').next().unwrap_or(full)
}

impl<S: NamedService> NamedService for Guarded<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for Guarded<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let path_method = req.uri().path().rsplit('/').next().unwrap_or_default();
        if self.open.contains(&path_method) {
            return Box::pin(self.inner.call(req));
        }
        match self.guard.verify(req.headers()) {
            Ok(()) => Box::pin(self.inner.call(req)),
            Err(reason) => {
                let method = self
                    .methods
                    .iter()
                    .find(|m| **m == path_method)
                    .copied()
                    .unwrap_or("other");
                let refusal = Refusal {
                    peer: req
                        .extensions()
                        .get::<tonic::transport::server::TcpConnectInfo>()
                        .and_then(|i| i.remote_addr()),
                    service: short_name(S::NAME),
                    method,
                    reason,
                };
                self.guard.report(&refusal);
                let status =
                    tonic::Status::unauthenticated(reason.message(refusal.service, method));
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

/// Methods of `RaftService`.
pub const RAFT_METHODS: &[&str] = &["AppendEntries", "Vote", "PreVote", "InstallSnapshot"];
/// Methods of `MetaService`.
pub const META_METHODS: &[&str] = &["Join", "Heartbeat", "WatchLeader"];
/// Methods of `FrontendService`.
pub const FRONTEND_METHODS: &[&str] = &[
    "Forward",
    "ReadIndex",
    "ReportTablets",
    "BeginTxn",
    "CommitTxn",
    "AbortTxn",
];
/// Methods of the backend's `HeartbeatService`.
pub const HEARTBEAT_METHODS: &[&str] = &["Heartbeat"];
/// Methods of `BackendService`.
pub const BACKEND_METHODS: &[&str] = &[
    "CreateTablet",
    "DropTablet",
    "ListTablets",
    "WriteTablet",
    "PublishVersion",
    "AbortLoad",
    "CloneTablet",
    "FetchSnapshot",
];
/// Methods of Arrow Flight's `FlightService`.
pub const FLIGHT_METHODS: &[&str] = &[
    "Handshake",
    "ListFlights",
    "GetFlightInfo",
    "PollFlightInfo",
    "GetSchema",
    "DoGet",
    "DoPut",
    "DoExchange",
    "DoAction",
    "ListActions",
];

/// Adds the token to a request's metadata (nothing when `token` is empty or not a valid
/// header value).
pub fn stamp<T>(req: &mut tonic::Request<T>, token: &str) {
    if token.is_empty() {
        return;
    }
    if let Ok(v) = token.parse() {
        req.metadata_mut().insert(TOKEN_HEADER, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_and_verdicts() {
        assert!(tokens_equal(b"abc", b"abc"));
        assert!(!tokens_equal(b"abc", b"abd"));
        assert!(!tokens_equal(b"abc", b"abcd"));
        assert!(!tokens_equal(b"", b"a"));
        let known = TokenGuard::new(|| Some(Arc::from("t-1")), |_| {});
        let mut h = http::HeaderMap::new();
        assert_eq!(known.verify(&h), Err(Refused::Missing));
        h.insert(TOKEN_HEADER, "t-2".parse().expect("header"));
        assert_eq!(known.verify(&h), Err(Refused::Unmatched));
        h.insert(TOKEN_HEADER, "t-1".parse().expect("header"));
        assert_eq!(known.verify(&h), Ok(()));
        let unjoined = TokenGuard::new(|| None, |_| {});
        assert_eq!(unjoined.verify(&h), Err(Refused::NotJoined));
        assert_eq!(short_name("tessera.RaftService"), "RaftService");
        assert_eq!(
            short_name("arrow.flight.protocol.FlightService"),
            "FlightService"
        );
        assert!(
            Refused::Unmatched
                .message("A", "b")
                .starts_with("Unmatched token")
        );
        assert!(
            Refused::Missing
                .message("A", "b")
                .starts_with("invalid token")
        );
    }

    #[test]
    fn stamp_sets_the_header() {
        let mut r = tonic::Request::new(());
        stamp(&mut r, "");
        assert!(r.metadata().get(TOKEN_HEADER).is_none());
        stamp(&mut r, "abc");
        assert_eq!(
            r.metadata().get(TOKEN_HEADER).and_then(|v| v.to_str().ok()),
            Some("abc")
        );
    }
}
