//! The gRPC channel's way out: through the proxy the environment names, as the token request
//! (reqwest) and baton's Go stack do. `HTTPS_PROXY`/`https_proxy` (or `ALL_PROXY`) names an
//! HTTP proxy, with credentials in its URL if it needs them; `NO_PROXY` lists the hosts reached
//! directly. The channel then opens an HTTP CONNECT tunnel to ConductorOne and speaks TLS
//! through it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects to a destination directly or through the environment's proxy.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    matcher: Arc<Matcher>,
    http: HttpConnector,
}

impl ProxyConnector {
    /// A connector reading the proxy variables now.
    pub(crate) fn from_env() -> Self {
        let mut http = HttpConnector::new();
        // The destination is https: TLS goes on top of what this returns.
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(60)));
        http.set_connect_timeout(Some(Duration::from_secs(30)));
        Self {
            matcher: Arc::new(Matcher::from_env()),
            http,
        }
    }

    /// The proxy a connection to `dst` goes through, as `host:port` (never its credentials).
    pub(crate) fn proxy_for(&self, dst: &Uri) -> Option<String> {
        let intercept = self.matcher.intercept(dst)?;
        let uri = intercept.uri();
        Some(format!(
            "{}:{}",
            uri.host().unwrap_or_default(),
            uri.port_u16().unwrap_or(80)
        ))
    }
}

impl tower::Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match self.matcher.intercept(&dst) {
            Some(intercept) => {
                let mut tunnel = Tunnel::new(intercept.uri().clone(), self.http.clone());
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move { tunnel.call(dst).await.map_err(BoxError::from) })
            }
            None => {
                let mut http = self.http.clone();
                Box::pin(async move { http.call(dst).await.map_err(BoxError::from) })
            }
        }
    }
}
