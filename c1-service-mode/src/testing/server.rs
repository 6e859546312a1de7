//! The fake control plane's endpoints: the token endpoint and `BatonService`, written by hand on
//! tonic's server codec.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier};
use futures::StreamExt;
use prost::Message;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tonic::{Request, Status};

use super::script::{Finished, HelloSeen, TaskResult, Upload};
use super::{PlaneState, lock, take_one};
use crate::proto::{self, path};

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

pub(super) async fn token(
    State(state): State<Arc<PlaneState>>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    state.changed.notify_waiters();
    if take_one(&state.faults.token_unavailable) {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if take_one(&state.faults.token_endless) {
        let chunk = bytes::Bytes::from(vec![b' '; 16 * 1024]);
        let endless = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        return axum::body::Body::from_stream(endless).into_response();
    }
    if take_one(&state.faults.token_redirected) {
        return (
            axum::http::StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, "/elsewhere")],
        )
            .into_response();
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

pub(super) async fn elsewhere(State(state): State<Arc<PlaneState>>) -> Response {
    state
        .faults
        .redirect_followed
        .fetch_add(1, Ordering::SeqCst);
    state.changed.notify_waiters();
    axum::http::StatusCode::NOT_FOUND.into_response()
}

fn authorized(state: &PlaneState, request: &axum::http::Request<axum::body::Body>) -> bool {
    request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| lock(&state.issued).contains(t))
}

pub(super) async fn grpc(
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
                    s.hello_calls.fetch_add(1, Ordering::SeqCst);
                    s.changed.notify_waiters();
                    if take_one(&s.faults.hello_hung) {
                        std::future::pending::<()>().await;
                    }
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
                        s.upload_calls.fetch_add(1, Ordering::SeqCst);
                        s.changed.notify_waiters();
                        if take_one(&s.faults.upload_hung) {
                            std::future::pending::<()>().await;
                        }
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
    let package = (build.package.clone(), build.package_version.clone());
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
        package,
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
