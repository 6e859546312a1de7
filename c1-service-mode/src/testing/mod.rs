//! An in-process fake ConductorOne control plane (feature `testing`): a TLS server on loopback
//! with the token endpoint (which checks the client assertion's signature and claims) and
//! `BatonService` (Hello, GetTask from a scripted list, Heartbeat, FinishTask, UploadAsset with
//! its SHA-256 checked), fault switches, and a record of everything it was told.

mod script;
mod server;

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use secrecy::SecretString;
use tokio::sync::Notify;

pub use script::{Finished, HelloSeen, ScriptedTask, TaskResult, Upload};

use crate::credentials::ClientSecret;
use crate::proto;
use server::{elsewhere, grpc, token};

#[derive(Default)]
struct Faults {
    token_unavailable: AtomicUsize,
    token_endless: AtomicUsize,
    token_redirected: AtomicUsize,
    redirect_followed: AtomicUsize,
    get_task_unavailable: AtomicUsize,
    finish_unavailable: AtomicUsize,
    hello_hung: AtomicUsize,
    upload_hung: AtomicUsize,
    cancel: Mutex<HashSet<String>>,
}

struct PlaneState {
    client_id: String,
    audience: String,
    key: VerifyingKey,
    lifetime: AtomicU64,
    issued: Mutex<HashSet<String>>,
    token_requests: AtomicUsize,
    refused_tokens: AtomicUsize,
    tasks: Mutex<VecDeque<proto::Task>>,
    next_poll_ms: AtomicU64,
    polls: AtomicUsize,
    hellos: Mutex<Vec<HelloSeen>>,
    heartbeats: Mutex<Vec<String>>,
    finished: Mutex<Vec<Finished>>,
    uploads: Mutex<Vec<Upload>>,
    unauthenticated_calls: AtomicUsize,
    hello_calls: AtomicUsize,
    upload_calls: AtomicUsize,
    faults: Faults,
    changed: Notify,
    open: AtomicBool,
    keep_bytes: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// The fake control plane.
pub struct FakeControlPlane {
    addr: SocketAddr,
    state: Arc<PlaneState>,
    secret: SecretString,
    ca_pem: Vec<u8>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeControlPlane")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeControlPlane {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeControlPlane {
    /// Starts a control plane on a loopback port with a fresh client key and certificate.
    pub async fn start() -> Self {
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("a self-signed certificate");
        let ca_pem = cert.cert.pem().into_bytes();
        let key_der =
            rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let mut tls = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key_der)
        .expect("a TLS configuration");
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("an address");
        let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let client_id = format!("fake-agent@localhost:{}/pcc", addr.port());
        let state = Arc::new(PlaneState {
            client_id,
            audience: "localhost".to_owned(),
            key: key.verifying_key(),
            lifetime: AtomicU64::new(3600),
            issued: Mutex::new(HashSet::new()),
            token_requests: AtomicUsize::new(0),
            refused_tokens: AtomicUsize::new(0),
            tasks: Mutex::new(VecDeque::new()),
            next_poll_ms: AtomicU64::new(20),
            polls: AtomicUsize::new(0),
            hellos: Mutex::new(Vec::new()),
            heartbeats: Mutex::new(Vec::new()),
            finished: Mutex::new(Vec::new()),
            uploads: Mutex::new(Vec::new()),
            unauthenticated_calls: AtomicUsize::new(0),
            hello_calls: AtomicUsize::new(0),
            upload_calls: AtomicUsize::new(0),
            faults: Faults::default(),
            changed: Notify::new(),
            open: AtomicBool::new(true),
            keep_bytes: AtomicBool::new(true),
        });
        let router = axum::Router::new()
            .route("/auth/v1/token", axum::routing::post(token))
            .route("/elsewhere", axum::routing::any(elsewhere))
            .fallback(grpc)
            .with_state(state.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let server = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    // Out of descriptors, say: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let acceptor = acceptor.clone();
                let router = router.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                });
            }
        });
        Self {
            addr,
            state,
            secret: ClientSecret::encode(&key),
            ca_pem,
            server,
        }
    }

    /// The client id it accepts: `fake-agent@localhost:<port>/pcc`.
    pub fn client_id(&self) -> &str {
        &self.state.client_id
    }

    /// The client secret it accepts.
    pub fn client_secret(&self) -> SecretString {
        self.secret.clone()
    }

    /// A secret of another key (refused by the token endpoint).
    pub fn wrong_secret() -> SecretString {
        ClientSecret::encode(&SigningKey::from_bytes(&rand::random::<[u8; 32]>()))
    }

    /// Its certificate, PEM (trust it with `Config::with_ca_bundle_pem`).
    pub fn ca_pem(&self) -> Vec<u8> {
        self.ca_pem.clone()
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues `task`; returns its id.
    pub fn push(&self, task: ScriptedTask) -> String {
        let id = task.0.id.clone();
        lock(&self.state.tasks).push_back(task.0);
        id
    }

    /// The `next_poll` GetTask answers with (default 20 ms).
    pub fn set_next_poll(&self, wait: Duration) {
        self.state
            .next_poll_ms
            .store(wait.as_millis() as u64, Ordering::SeqCst);
    }

    /// The `expires_in` of the tokens it issues (default 3600 s).
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state.lifetime.store(seconds, Ordering::SeqCst);
    }

    /// Keeps only the size and checksum of uploads, not their bytes (for measurements).
    pub fn discard_upload_bytes(&self) {
        self.state.keep_bytes.store(false, Ordering::SeqCst);
    }

    /// Answers the next `n` token requests with 503.
    pub fn fail_tokens(&self, n: usize) {
        self.state
            .faults
            .token_unavailable
            .store(n, Ordering::SeqCst);
    }

    /// Answers the next `n` token requests with 200 and a body that never ends.
    pub fn endless_tokens(&self, n: usize) {
        self.state.faults.token_endless.store(n, Ordering::SeqCst);
    }

    /// Answers the next `n` token requests with a redirect (307) to `/elsewhere`.
    pub fn redirect_tokens(&self, n: usize) {
        self.state
            .faults
            .token_redirected
            .store(n, Ordering::SeqCst);
    }

    /// Requests that followed a redirect to `/elsewhere`.
    pub fn redirects_followed(&self) -> usize {
        self.state.faults.redirect_followed.load(Ordering::SeqCst)
    }

    /// The next `n` Hello calls are never answered.
    pub fn hang_hellos(&self, n: usize) {
        self.state.faults.hello_hung.store(n, Ordering::SeqCst);
    }

    /// The next `n` UploadAsset calls take nothing and are never answered.
    pub fn hang_uploads(&self, n: usize) {
        self.state.faults.upload_hung.store(n, Ordering::SeqCst);
    }

    /// Hello calls that were answered or are hanging, counted.
    pub fn hello_calls(&self) -> usize {
        self.state.hello_calls.load(Ordering::SeqCst)
    }

    /// UploadAsset calls received, counted.
    pub fn upload_calls(&self) -> usize {
        self.state.upload_calls.load(Ordering::SeqCst)
    }

    /// The next `n` GetTask calls fail with UNAVAILABLE.
    pub fn fail_get_task(&self, n: usize) {
        self.state
            .faults
            .get_task_unavailable
            .store(n, Ordering::SeqCst);
    }

    /// Answers the next `n` FinishTask calls with UNAVAILABLE.
    pub fn fail_finish(&self, n: usize) {
        self.state
            .faults
            .finish_unavailable
            .store(n, Ordering::SeqCst);
    }

    /// Answers heartbeats of `task_id` with `cancelled`.
    pub fn cancel(&self, task_id: &str) {
        lock(&self.state.faults.cancel).insert(task_id.to_owned());
    }

    /// Token requests received, and how many were refused.
    pub fn token_requests(&self) -> (usize, usize) {
        (
            self.state.token_requests.load(Ordering::SeqCst),
            self.state.refused_tokens.load(Ordering::SeqCst),
        )
    }

    /// GetTask calls answered.
    pub fn polls(&self) -> usize {
        self.state.polls.load(Ordering::SeqCst)
    }

    /// gRPC calls refused for a missing or unknown token.
    pub fn unauthenticated_calls(&self) -> usize {
        self.state.unauthenticated_calls.load(Ordering::SeqCst)
    }

    /// The Hellos received.
    pub fn hellos(&self) -> Vec<HelloSeen> {
        lock(&self.state.hellos).clone()
    }

    /// The task ids of the heartbeats received, in order.
    pub fn heartbeats(&self) -> Vec<String> {
        lock(&self.state.heartbeats).clone()
    }

    /// The FinishTasks received, in order.
    pub fn finished(&self) -> Vec<Finished> {
        lock(&self.state.finished).clone()
    }

    /// The uploads received, in order.
    pub fn uploads(&self) -> Vec<Upload> {
        lock(&self.state.uploads).clone()
    }

    /// Waits until `done` holds (checked after every change), at most `timeout`; returns
    /// whether it held.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.state.changed.notified();
            if done(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(self);
            }
        }
    }

    /// Waits until `n` tasks have been finished, at most `timeout`.
    pub async fn wait_finished(&self, n: usize, timeout: Duration) -> Vec<Finished> {
        self.wait_for(timeout, |p| p.finished().len() >= n).await;
        self.finished()
    }
}
