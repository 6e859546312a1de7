//! An in-process fake ConductorOne control plane (feature `testing`): a TLS server on loopback
//! with the token endpoint (which checks the client assertion's signature and claims) and
//! `BatonService` (Hello, GetTask from a scripted list, Heartbeat, FinishTask, UploadAsset with
//! its SHA-256 checked), fault switches, and a record of everything it was told.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use connector_sdk::{EntitlementId, Grant, Resource, ResourceId};
use ed25519_dalek::{Signature, SigningKey, Verifier, VerifyingKey};
use futures::StreamExt;
use prost::Message;
use secrecy::SecretString;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tonic::{Request, Status};

use crate::credentials::ClientSecret;
use crate::proto::{self, path};

/// A task to hand out, built in the SDK's terms.
#[derive(Debug, Clone)]
pub struct ScriptedTask(proto::Task);

impl ScriptedTask {
    fn new(task_type: proto::TaskType) -> Self {
        Self(proto::Task {
            id: c1z::wire::ksuid(),
            status: 1,
            debug: false,
            task_type: Some(task_type),
        })
    }

    /// A full sync.
    pub fn sync_full() -> Self {
        Self::new(proto::TaskType::SyncFull(proto::SyncFullTask::default()))
    }

    /// A HelloTask.
    pub fn hello() -> Self {
        Self::new(proto::TaskType::Hello(proto::Annotated::default()))
    }

    /// Give `principal` the entitlement `entitlement`, as ConductorOne sends it: the
    /// entitlement with its resource's id, the principal as a resource with its id.
    pub fn grant(entitlement: &EntitlementId, principal: &ResourceId) -> Self {
        Self::new(proto::TaskType::Grant(proto::GrantTask {
            entitlement: c1z::wire::entitlement_ref(entitlement),
            principal: c1z::wire::resource(&Resource::new(principal.clone(), ""), &[]),
            annotations: Vec::new(),
            duration: None,
        }))
    }

    /// A grant with a duration (a time-bound grant).
    pub fn grant_for(entitlement: &EntitlementId, principal: &ResourceId, seconds: i64) -> Self {
        let mut task = Self::grant(entitlement, principal);
        if let Some(proto::TaskType::Grant(grant)) = &mut task.0.task_type {
            grant.duration = Some(prost_types::Duration { seconds, nanos: 0 });
        }
        task
    }

    /// Take `grant` away.
    pub fn revoke(grant: &Grant) -> Self {
        Self::new(proto::TaskType::Revoke(proto::RevokeTask {
            grant: c1z::wire::grant(grant),
            annotations: Vec::new(),
        }))
    }

    /// Create an account: its login, primary email, and profile.
    pub fn create_account(login: &str, email: &str, profile: &Map<String, Value>) -> Self {
        Self::new(proto::TaskType::CreateAccount(proto::CreateAccountTask {
            account_info: Some(proto::AccountInfo {
                emails: vec![proto::AccountEmail {
                    address: email.to_owned(),
                    is_primary: true,
                }],
                login: login.to_owned(),
                login_aliases: Vec::new(),
                profile: c1z::wire::json_struct(profile),
            }),
            credential_options: Vec::new(),
            encryption_configs: Vec::new(),
            resource_type_id: String::new(),
        }))
    }

    /// Run action `name` with `arguments`.
    pub fn action(name: &str, arguments: &Map<String, Value>) -> Self {
        Self::new(proto::TaskType::ActionInvoke(proto::ActionInvokeTask {
            name: name.to_owned(),
            args: c1z::wire::json_struct(arguments),
            annotations: Vec::new(),
            resource_type_id: String::new(),
        }))
    }

    /// List the action schemas.
    pub fn action_list_schemas() -> Self {
        Self::new(proto::TaskType::ActionListSchemas(
            proto::ActionListSchemasTask::default(),
        ))
    }

    /// A task type this crate does not run (`create_resource`).
    pub fn unsupported() -> Self {
        Self::new(proto::TaskType::CreateResource(Vec::new()))
    }

    /// The task's id.
    pub fn id(&self) -> &str {
        &self.0.id
    }
}

/// How a task was finished.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskResult {
    /// `FinishTask` with `success`.
    Success {
        /// The response's type, such as `c1.connector.v2.GrantManagerServiceGrantResponse`.
        response_type: Option<String>,
        /// The response's bytes.
        response: Vec<u8>,
        /// The type names of the success annotations.
        annotations: Vec<String>,
    },
    /// `FinishTask` with `error`.
    Error {
        /// The status code.
        code: i32,
        /// The status message.
        message: String,
        /// Whether ConductorOne must not retry it.
        non_retryable: bool,
    },
}

/// One FinishTask received.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The task id.
    pub task_id: String,
    /// The host id it came from.
    pub host_id: String,
    /// The outcome.
    pub result: TaskResult,
}

impl Finished {
    fn response(&self) -> Option<&[u8]> {
        match &self.result {
            TaskResult::Success { response, .. } => Some(response),
            TaskResult::Error { .. } => None,
        }
    }

    /// The grants a grant task answered with.
    pub fn grants(&self) -> Vec<Grant> {
        self.response()
            .and_then(|r| proto::GrantResponse::decode(r).ok())
            .map(|r| {
                r.grants
                    .iter()
                    .filter_map(|g| c1z::wire::read_grant(g).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The account a create-account task answered with, and whether it was created (rather
    /// than found).
    pub fn account(&self) -> Option<(Resource, bool)> {
        let answer = proto::CreateAccountResponse::decode(self.response()?).ok()?;
        match answer.result? {
            proto::AccountResult::Success(a) => {
                Some((c1z::wire::read_resource(&a.resource).ok()?, true))
            }
            proto::AccountResult::AlreadyExists(a) => {
                Some((c1z::wire::read_resource(&a.resource).ok()?, false))
            }
            proto::AccountResult::ActionRequired(_) => None,
        }
    }

    /// The result of an action task.
    pub fn action_result(&self) -> Option<Map<String, Value>> {
        let answer = proto::InvokeActionResponse::decode(self.response()?).ok()?;
        c1z::wire::read_json_struct(&answer.response).ok()
    }

    /// The action names an `action_list_schemas` task answered with.
    pub fn action_names(&self) -> Vec<String> {
        self.response()
            .and_then(|r| proto::ListActionSchemasResponse::decode(r).ok())
            .map(|r| r.schemas.into_iter().map(|s| s.name).collect())
            .unwrap_or_default()
    }
}

/// One upload received.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// The task id of its metadata.
    pub task_id: String,
    /// The bytes, in order (empty after [`FakeControlPlane::discard_upload_bytes`]).
    pub bytes: Vec<u8>,
    /// How many bytes were received.
    pub size: u64,
    /// The chunk sizes.
    pub chunks: Vec<usize>,
    /// Whether the SHA-256 in its end message matched the bytes.
    pub checksum_ok: bool,
}

/// One Hello received.
#[derive(Debug, Clone, PartialEq)]
pub struct HelloSeen {
    /// Its task id (empty at start-up).
    pub task_id: String,
    /// The host id.
    pub host_id: String,
    /// The connector's display name.
    pub display_name: String,
    /// Capability values of each resource type, by type id.
    pub capabilities: Vec<(String, Vec<i32>)>,
    /// The connector-level capability values.
    pub connector_capabilities: Vec<i32>,
    /// The account-creation fields, when declared.
    pub account_fields: Vec<String>,
    /// Whether every build and OS string was non-empty.
    pub complete: bool,
}

#[derive(Default)]
struct Faults {
    token_unavailable: AtomicUsize,
    get_task_unavailable: AtomicUsize,
    finish_unavailable: AtomicUsize,
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
            faults: Faults::default(),
            changed: Notify::new(),
            open: AtomicBool::new(true),
            keep_bytes: AtomicBool::new(true),
        });
        let router = axum::Router::new()
            .route("/auth/v1/token", axum::routing::post(token))
            .fallback(grpc)
            .with_state(state.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let server = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
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

    /// Answers the next `n` GetTask calls with UNAVAILABLE.
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

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks a client assertion: the signature, `iss` = `sub` = the client id, `aud` the host,
/// and the validity window.
fn assertion_ok(state: &PlaneState, jws: &str) -> bool {
    let parts: Vec<&str> = jws.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let Ok(signature) = <[u8; 64]>::try_from(signature.as_slice()) else {
        return false;
    };
    let signed = format!("{header}.{claims}");
    if state
        .key
        .verify(signed.as_bytes(), &Signature::from_bytes(&signature))
        .is_err()
    {
        return false;
    }
    let header: Option<Value> = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok());
    let claims: Option<Value> = URL_SAFE_NO_PAD
        .decode(claims)
        .ok()
        .and_then(|c| serde_json::from_slice(&c).ok());
    let (Some(header), Some(claims)) = (header, claims) else {
        return false;
    };
    let now = now();
    header["alg"] == "EdDSA"
        && claims["iss"] == state.client_id.as_str()
        && claims["sub"] == state.client_id.as_str()
        && claims["aud"] == state.audience.as_str()
        && claims["exp"].as_u64().is_some_and(|exp| exp > now)
        && claims["nbf"].as_u64().is_some_and(|nbf| nbf <= now)
}

async fn token(
    State(state): State<Arc<PlaneState>>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    state.changed.notify_waiters();
    if take_one(&state.faults.token_unavailable) {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let field = |name: &str| form.get(name).map(String::as_str);
    let ok = field("grant_type") == Some("client_credentials")
        && field("client_assertion_type")
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        && field("client_id") == Some(state.client_id.as_str())
        && field("client_assertion").is_some_and(|jws| assertion_ok(&state, jws));
    if !ok {
        state.refused_tokens.fetch_add(1, Ordering::SeqCst);
        return axum::http::StatusCode::UNAUTHORIZED.into_response();
    }
    let token = format!("{:032x}", rand::random::<u128>());
    lock(&state.issued).insert(token.clone());
    axum::Json(serde_json::json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": state.lifetime.load(Ordering::SeqCst),
    }))
    .into_response()
}

fn authorized(state: &PlaneState, request: &axum::http::Request<axum::body::Body>) -> bool {
    request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| lock(&state.issued).contains(t))
}

async fn grpc(
    State(state): State<Arc<PlaneState>>,
    request: axum::http::Request<axum::body::Body>,
) -> Response {
    if !state.open.load(Ordering::SeqCst) {
        return Status::unavailable("closed")
            .into_http::<tonic::body::Body>()
            .map(axum::body::Body::new);
    }
    if !authorized(&state, &request) {
        state.unauthenticated_calls.fetch_add(1, Ordering::SeqCst);
        return Status::unauthenticated("unknown token")
            .into_http::<tonic::body::Body>()
            .map(axum::body::Body::new);
    }
    let route = request.uri().path().to_owned();
    let s = state.clone();
    let response = match route.as_str() {
        path::HELLO => {
            let service = tower::service_fn(move |r: Request<proto::HelloRequest>| {
                let s = s.clone();
                async move {
                    lock(&s.hellos).push(hello_seen(r.into_inner()));
                    s.changed.notify_waiters();
                    Ok::<_, Status>(tonic::Response::new(proto::Annotated::default()))
                }
            });
            tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                proto::Annotated,
                proto::HelloRequest,
            >::default())
            .unary(service, request)
            .await
        }
        path::GET_TASK => {
            let service = tower::service_fn(move |_r: Request<proto::GetTaskRequest>| {
                let s = s.clone();
                async move {
                    if take_one(&s.faults.get_task_unavailable) {
                        return Err(Status::unavailable("scripted GetTask failure"));
                    }
                    s.polls.fetch_add(1, Ordering::SeqCst);
                    let task = lock(&s.tasks).pop_front();
                    s.changed.notify_waiters();
                    let ms = s.next_poll_ms.load(Ordering::SeqCst);
                    Ok(tonic::Response::new(proto::GetTaskResponse {
                        task,
                        next_poll: Some(prost_types::Duration {
                            seconds: (ms / 1000) as i64,
                            nanos: ((ms % 1000) * 1_000_000) as i32,
                        }),
                        next_heartbeat: None,
                        annotations: Vec::new(),
                    }))
                }
            });
            tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                proto::GetTaskResponse,
                proto::GetTaskRequest,
            >::default())
            .unary(service, request)
            .await
        }
        path::HEARTBEAT => {
            let service = tower::service_fn(move |r: Request<proto::HeartbeatRequest>| {
                let s = s.clone();
                async move {
                    let task_id = r.into_inner().task_id;
                    let cancelled = lock(&s.faults.cancel).contains(&task_id);
                    lock(&s.heartbeats).push(task_id);
                    s.changed.notify_waiters();
                    Ok::<_, Status>(tonic::Response::new(proto::HeartbeatResponse {
                        next_heartbeat: Some(prost_types::Duration {
                            seconds: 1,
                            nanos: 0,
                        }),
                        cancelled,
                        annotations: Vec::new(),
                    }))
                }
            });
            tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                proto::HeartbeatResponse,
                proto::HeartbeatRequest,
            >::default())
            .unary(service, request)
            .await
        }
        path::FINISH_TASK => {
            let service = tower::service_fn(move |r: Request<proto::FinishTaskRequest>| {
                let s = s.clone();
                async move {
                    if take_one(&s.faults.finish_unavailable) {
                        return Err(Status::unavailable("scripted FinishTask failure"));
                    }
                    lock(&s.finished).push(finished(r.into_inner()));
                    s.changed.notify_waiters();
                    Ok(tonic::Response::new(proto::Annotated::default()))
                }
            });
            tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                proto::Annotated,
                proto::FinishTaskRequest,
            >::default())
            .unary(service, request)
            .await
        }
        path::UPLOAD_ASSET => {
            let service = tower::service_fn(
                move |r: Request<tonic::Streaming<proto::UploadAssetRequest>>| {
                    let s = s.clone();
                    async move {
                        let keep = s.keep_bytes.load(Ordering::SeqCst);
                        let upload = receive_upload(r.into_inner(), keep).await?;
                        lock(&s.uploads).push(upload);
                        s.changed.notify_waiters();
                        Ok(tonic::Response::new(proto::Annotated::default()))
                    }
                },
            );
            tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                proto::Annotated,
                proto::UploadAssetRequest,
            >::default())
            .client_streaming(service, request)
            .await
        }
        _ => Status::unimplemented("no such method").into_http::<tonic::body::Body>(),
    };
    response.map(axum::body::Body::new)
}

async fn receive_upload(
    mut stream: tonic::Streaming<proto::UploadAssetRequest>,
    keep_bytes: bool,
) -> Result<Upload, Status> {
    let mut upload = Upload {
        task_id: String::new(),
        bytes: Vec::new(),
        size: 0,
        chunks: Vec::new(),
        checksum_ok: false,
    };
    let mut hasher = Sha256::new();
    let mut ended = false;
    while let Some(message) = stream.next().await {
        match message?.msg {
            Some(proto::UploadMsg::Metadata(m)) => upload.task_id = m.task_id,
            Some(proto::UploadMsg::Data(d)) => {
                if d.data.is_empty() || d.data.len() > 1024 * 1024 {
                    return Err(Status::invalid_argument("a chunk of 1 to 1 MiB"));
                }
                upload.chunks.push(d.data.len());
                upload.size += d.data.len() as u64;
                hasher.update(&d.data);
                if keep_bytes {
                    upload.bytes.extend_from_slice(&d.data);
                }
            }
            Some(proto::UploadMsg::Eof(e)) => {
                upload.checksum_ok = hasher.clone().finalize().as_slice() == e.sha256_checksum;
                ended = true;
            }
            None => return Err(Status::invalid_argument("an empty upload message")),
        }
    }
    if !ended || upload.task_id.is_empty() {
        return Err(Status::invalid_argument(
            "an upload needs metadata and an end",
        ));
    }
    Ok(upload)
}

fn hello_seen(hello: proto::HelloRequest) -> HelloSeen {
    let build = hello.build_info.unwrap_or_default();
    let os = hello.os_info.unwrap_or_default();
    let complete = [
        &build.lang_version,
        &build.package,
        &build.package_version,
        &os.hostname,
        &os.os,
        &os.platform,
        &os.platform_version,
        &os.platform_family,
        &os.kernel_version,
        &os.kernel_arch,
        &os.virtualization_system,
    ]
    .iter()
    .all(|s| !s.is_empty() && s.chars().count() <= 256);
    let metadata = hello.connector_metadata.unwrap_or_default();
    let capabilities = metadata.capabilities.unwrap_or_default();
    HelloSeen {
        task_id: hello.task_id,
        host_id: hello.host_id,
        display_name: metadata.display_name,
        capabilities: capabilities
            .resource_type_capabilities
            .iter()
            .map(|c| {
                let id = read_type_id(&c.resource_type);
                (id, c.capabilities.clone())
            })
            .collect(),
        connector_capabilities: capabilities.connector_capabilities,
        account_fields: metadata
            .account_creation_schema
            .map(|s| s.field_map.into_keys().collect())
            .unwrap_or_default(),
        complete,
    }
}

/// The id of a `c1.connector.v2.ResourceType` (field 1).
fn read_type_id(bytes: &[u8]) -> String {
    #[derive(Clone, PartialEq, prost::Message)]
    struct TypeId {
        #[prost(string, tag = "1")]
        id: String,
    }
    TypeId::decode(bytes).map(|t| t.id).unwrap_or_default()
}

fn finished(request: proto::FinishTaskRequest) -> Finished {
    let result = match request.final_state {
        Some(proto::FinalState::Success(success)) => TaskResult::Success {
            response_type: success.response.as_ref().map(|a| {
                a.type_url
                    .trim_start_matches("type.googleapis.com/")
                    .to_owned()
            }),
            response: success.response.map(|a| a.value).unwrap_or_default(),
            annotations: success
                .annotations
                .iter()
                .map(|a| {
                    a.type_url
                        .trim_start_matches("type.googleapis.com/")
                        .to_owned()
                })
                .collect(),
        },
        Some(proto::FinalState::Error(error)) => {
            let status = request.status.unwrap_or_default();
            TaskResult::Error {
                code: status.code,
                message: status.message,
                non_retryable: error.non_retryable,
            }
        }
        None => TaskResult::Error {
            code: -1,
            message: "no final state".into(),
            non_retryable: false,
        },
    };
    Finished {
        task_id: request.task_id,
        host_id: request.host_id,
        result,
    }
}
