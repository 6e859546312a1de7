//! The HTTP server: accepts connections up to a cap, closes connections whose request head does
//! not arrive in time (which also bounds idle keep-alive connections), and shuts down within a
//! hard deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The peer of a request, as an extension handlers can read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// How long to wait after a failed `accept` (such as running out of file descriptors) before
/// accepting again, so the loop never spins.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Limits of the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// A connection whose next request head is not complete within this is closed.
    pub(crate) header_read_timeout: Duration,
    /// Connections open at once; further clients wait in the listen backlog.
    pub(crate) max_connections: usize,
    /// How long open connections may take to finish their requests after shutdown begins.
    pub(crate) drain: Duration,
}

/// Serves `router` on `listener` until `stop` is cancelled, then lets open connections finish
/// their requests for at most `limits.drain` and closes whatever is left.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    open: prometheus_client::metrics::gauge::Gauge,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        // Finished connections are reaped here, so the set holds at most the open ones.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = stop.cancelled() => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            },
        };
        let router = router.clone().layer(axum::Extension(Peer(peer)));
        let service = TowerToHyperService::new(router);
        let stop = stop.clone();
        let open = open.clone();
        connections.spawn(async move {
            let _open = Open::new(open);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(limits.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open at the shutdown deadline were closed"
        );
        connections.shutdown().await;
    }
}

/// Counts a connection as open for as long as it lives, however its task ends.
struct Open(prometheus_client::metrics::gauge::Gauge);

impl Open {
    fn new(gauge: prometheus_client::metrics::gauge::Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}
