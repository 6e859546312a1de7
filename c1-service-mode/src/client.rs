//! `BatonService` over gRPC with TLS: every call carries the access token; the upload streams the
//! file in 512 KiB chunks followed by its SHA-256.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use http::uri::PathAndQuery;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::proto::{self, path};
use crate::token::{TokenError, Tokens, metadata_value};

/// Why a call to ConductorOne failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No access token.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The call failed (transport or status).
    #[error("{method} failed with gRPC status {code}")]
    Rpc {
        /// The method, such as `GetTask`.
        method: &'static str,
        /// gRPC's status code, as gRPC numbers them (14 UNAVAILABLE, 16 UNAUTHENTICATED, ...).
        code: i32,
        /// gRPC's status (its message and details; a `tonic::Status` for `downcast_ref`, which
        /// is not otherwise part of this crate's API).
        #[source]
        status: connector_sdk::BoxError,
    },
    /// Reading the file to upload failed.
    #[error("cannot read the file to upload: {0}")]
    File(#[from] std::io::Error),
    /// A streaming call made no progress (ConductorOne, or a box on the way, stopped taking
    /// bytes or answering) for this long, and was abandoned.
    #[error("{method} made no progress for {} s", idle.as_secs())]
    Stalled {
        /// The method, such as `UploadAsset`.
        method: &'static str,
        /// How long nothing moved.
        idle: Duration,
    },
    /// The call was cancelled (the task was cancelled, or the connector is stopping).
    #[error("{method} was cancelled")]
    Cancelled {
        /// The method.
        method: &'static str,
    },
}

impl CallError {
    fn rpc(method: &'static str, status: tonic::Status) -> Self {
        Self::Rpc {
            method,
            code: status.code() as i32,
            status: Box::new(status),
        }
    }

    /// Whether ConductorOne refused the token or the credentials.
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::Token(e) => e.is_refusal(),
            Self::Rpc { code, .. } => {
                *code == tonic::Code::Unauthenticated as i32
                    || *code == tonic::Code::PermissionDenied as i32
            }
            Self::File(_) | Self::Stalled { .. } | Self::Cancelled { .. } => false,
        }
    }
}

/// The bytes of each uploaded chunk.
pub(crate) const CHUNK: usize = 512 * 1024;

/// How long calls may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    /// Hello and GetTask (Heartbeat and FinishTask have 30 s).
    pub(crate) call: Duration,
    /// The longest an upload may go without taking a chunk, or without an answer after its
    /// last one.
    pub(crate) stall: Duration,
}

/// Heartbeat and FinishTask, as baton gives FinishTask.
const SHORT_CALL: Duration = Duration::from_secs(30);

/// A client of `BatonService` at one `host:port`.
pub(crate) struct Client {
    channel: Channel,
    tokens: Tokens,
    deadlines: Deadlines,
}

impl Client {
    /// A lazily connected channel to `https://<host>` trusting the platform's roots and
    /// `extra_roots` (DER).
    pub(crate) fn new(
        host: &str,
        extra_roots: &[Vec<u8>],
        user_agent: &str,
        tokens: Tokens,
        deadlines: Deadlines,
    ) -> Result<Self, tonic::transport::Error> {
        let server_name = host
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let tls = ClientTlsConfig::new()
            .with_native_roots()
            .ca_certificates(extra_roots.iter().map(Certificate::from_pem))
            .domain_name(server_name.to_owned());
        let channel = Endpoint::from_shared(format!("https://{host}"))?
            .user_agent(user_agent.to_owned())?
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(30))
            .tcp_keepalive(Some(Duration::from_secs(60)))
            // HTTP/2 pings find a connection a middlebox dropped without a word: one unanswered
            // for 20 s closes it, and the next call connects again.
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        let connector = crate::proxy::ProxyConnector::from_env();
        if let Some(proxy) = connector.proxy_for(channel.uri()) {
            tracing::info!(%proxy, host, "ConductorOne is reached through a proxy (HTTPS_PROXY)");
        }
        let channel = channel.connect_with_connector_lazy(connector);
        Ok(Self {
            channel,
            tokens,
            deadlines,
        })
    }

    /// The request, and the authorization header it carries.
    async fn request<T>(
        &self,
        message: T,
        deadline: Option<Duration>,
    ) -> Result<(tonic::Request<T>, secrecy::SecretString), CallError> {
        let header = self.tokens.header().await?;
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", metadata_value(&header)?);
        if let Some(deadline) = deadline {
            request.set_timeout(deadline);
        }
        Ok((request, header))
    }

    async fn unary<Q, A>(
        &self,
        method: &'static str,
        route: &'static str,
        message: Q,
        deadline: Option<Duration>,
    ) -> Result<A, CallError>
    where
        Q: prost::Message + Send + Sync + 'static,
        A: prost::Message + Default + Send + Sync + 'static,
    {
        let (request, header) = self.request(message, deadline).await?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let rpc = |status: tonic::Status| CallError::rpc(method, status);
        grpc.ready()
            .await
            .map_err(|e| rpc(tonic::Status::unavailable(connector_sdk::error_chain(&e))))?;
        let answer = grpc
            .unary(
                request,
                PathAndQuery::from_static(route),
                tonic_prost::ProstCodec::<Q, A>::default(),
            )
            .await;
        match answer {
            Ok(answer) => Ok(answer.into_inner()),
            Err(status) => {
                if status.code() == tonic::Code::Unauthenticated {
                    self.tokens.forget(&header).await;
                }
                Err(rpc(status))
            }
        }
    }

    pub(crate) async fn hello(&self, request: proto::HelloRequest) -> Result<(), CallError> {
        let deadline = Some(self.deadlines.call);
        self.unary::<_, proto::Annotated>("Hello", path::HELLO, request, deadline)
            .await
            .map(|_| ())
    }

    pub(crate) async fn get_task(
        &self,
        host_id: &str,
    ) -> Result<proto::GetTaskResponse, CallError> {
        let request = proto::GetTaskRequest {
            host_id: host_id.to_owned(),
        };
        let deadline = Some(self.deadlines.call);
        self.unary("GetTask", path::GET_TASK, request, deadline)
            .await
    }

    pub(crate) async fn heartbeat(
        &self,
        host_id: &str,
        task_id: &str,
    ) -> Result<proto::HeartbeatResponse, CallError> {
        let request = proto::HeartbeatRequest {
            host_id: host_id.to_owned(),
            task_id: task_id.to_owned(),
            annotations: Vec::new(),
        };
        self.unary("Heartbeat", path::HEARTBEAT, request, Some(SHORT_CALL))
            .await
    }

    pub(crate) async fn finish_task(
        &self,
        request: proto::FinishTaskRequest,
    ) -> Result<(), CallError> {
        self.unary::<_, proto::Annotated>(
            "FinishTask",
            path::FINISH_TASK,
            request,
            Some(SHORT_CALL),
        )
        .await
        .map(|_| ())
    }

    /// Uploads `file` for `task_id`: metadata, the file in 512 KiB chunks, then its SHA-256.
    /// Progress-bound: abandoned when no chunk is taken (or, after the last, no answer comes)
    /// within the stall deadline, and at once when `cancel` fires; `progress` is called with
    /// the bytes of each chunk taken. Returns the bytes sent.
    pub(crate) async fn upload(
        &self,
        host_id: &str,
        task_id: &str,
        file: &Path,
        cancel: &CancellationToken,
        progress: Arc<dyn Fn(usize) + Send + Sync>,
    ) -> Result<u64, CallError> {
        // The hash is computed first, so the stream can end with it without holding the file.
        let (size, sha256) = hash_file(file).await?;
        let metadata = proto::UploadAssetRequest {
            msg: Some(proto::UploadMsg::Metadata(proto::UploadMetadata {
                host_id: host_id.to_owned(),
                task_id: task_id.to_owned(),
                annotations: Vec::new(),
            })),
        };
        let eof = proto::UploadAssetRequest {
            msg: Some(proto::UploadMsg::Eof(proto::UploadEof {
                sha256_checksum: sha256,
                annotations: Vec::new(),
            })),
        };
        let opened = tokio::fs::File::open(file).await?;
        let started = Instant::now();
        let moved = Arc::new(AtomicU64::new(0));
        let touch = {
            let moved = moved.clone();
            move |bytes: usize| {
                moved.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                progress(bytes);
            }
        };
        let chunks = futures::stream::unfold(opened, move |mut file| {
            let touch = touch.clone();
            async move {
                let mut buffer = vec![0u8; CHUNK];
                let mut filled = 0;
                while filled < CHUNK {
                    match file.read(&mut buffer[filled..]).await {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) => {
                            tracing::error!(error = %e, "reading the upload failed");
                            return None;
                        }
                    }
                }
                (filled > 0).then(|| {
                    // Taken by the transport: the one before has gone out.
                    touch(filled);
                    buffer.truncate(filled);
                    let chunk = proto::UploadAssetRequest {
                        msg: Some(proto::UploadMsg::Data(proto::UploadData { data: buffer })),
                    };
                    (chunk, file)
                })
            }
        });
        let stream = futures::stream::once(async { metadata })
            .chain(chunks)
            .chain(futures::stream::once(async { eof }));
        let (request, _) = self.request(stream, None).await?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let rpc = |status: tonic::Status| CallError::rpc("UploadAsset", status);
        grpc.ready()
            .await
            .map_err(|e| rpc(tonic::Status::unavailable(connector_sdk::error_chain(&e))))?;
        let call = grpc.client_streaming::<_, _, proto::Annotated, _>(
            request,
            PathAndQuery::from_static(path::UPLOAD_ASSET),
            tonic_prost::ProstCodec::default(),
        );
        tokio::pin!(call);
        let stall = self.deadlines.stall;
        let check = (stall / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        loop {
            tokio::select! {
                answer = &mut call => {
                    answer.map_err(rpc)?;
                    return Ok(size);
                }
                () = cancel.cancelled() => {
                    return Err(CallError::Cancelled { method: "UploadAsset" });
                }
                () = tokio::time::sleep(check) => {
                    let last = Duration::from_millis(moved.load(Ordering::Relaxed));
                    let idle = started.elapsed().saturating_sub(last);
                    if idle >= stall {
                        return Err(CallError::Stalled { method: "UploadAsset", idle });
                    }
                }
            }
        }
    }
}

/// The size and SHA-256 of a file, read in chunks.
async fn hash_file(file: &Path) -> Result<(u64, Vec<u8>), std::io::Error> {
    let mut opened = tokio::fs::File::open(file).await?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = opened.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finalize().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_call_keeps_grpcs_status_as_its_source() {
        let error = CallError::rpc("Hello", tonic::Status::unauthenticated("token expired"));
        assert_eq!(error.to_string(), "Hello failed with gRPC status 16");
        assert!(error.is_refusal());
        let status = std::error::Error::source(&error)
            .and_then(|s| s.downcast_ref::<tonic::Status>())
            .expect("tonic's status");
        assert_eq!(status.message(), "token expired");
        assert_eq!(
            connector_sdk::error_chain(&error),
            "Hello failed with gRPC status 16: code: 'The request does not have valid \
             authentication credentials', message: \"token expired\""
        );
        assert!(!CallError::rpc("GetTask", tonic::Status::unavailable("down")).is_refusal());
    }
}
