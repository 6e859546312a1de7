//! `BatonService` over gRPC with TLS: every call carries the access token; the upload streams the
//! file in 512 KiB chunks followed by its SHA-256.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use http::uri::PathAndQuery;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
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
    #[error("{method} failed: {status}")]
    Rpc {
        /// The method, such as `GetTask`.
        method: &'static str,
        /// gRPC's status.
        status: Box<tonic::Status>,
    },
    /// Reading the file to upload failed.
    #[error("cannot read the file to upload: {0}")]
    File(#[from] std::io::Error),
}

impl CallError {
    /// Whether ConductorOne refused the token or the credentials.
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::Token(e) => e.is_refusal(),
            Self::Rpc { status, .. } => matches!(
                status.code(),
                tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
            ),
            Self::File(_) => false,
        }
    }
}

/// The bytes of each uploaded chunk.
pub(crate) const CHUNK: usize = 512 * 1024;

/// A client of `BatonService` at one `host:port`.
pub(crate) struct Client {
    channel: Channel,
    tokens: Tokens,
}

impl Client {
    /// A lazily connected channel to `https://<host>` trusting the platform's roots and
    /// `extra_roots` (DER).
    pub(crate) fn new(
        host: &str,
        extra_roots: &[Vec<u8>],
        user_agent: &str,
        tokens: Tokens,
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
            .connect_lazy();
        Ok(Self { channel, tokens })
    }

    async fn request<T>(
        &self,
        message: T,
        deadline: Option<Duration>,
    ) -> Result<tonic::Request<T>, CallError> {
        let header = self.tokens.header().await?;
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", metadata_value(&header)?);
        if let Some(deadline) = deadline {
            request.set_timeout(deadline);
        }
        Ok(request)
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
        let request = self.request(message, deadline).await?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let rpc = |status: tonic::Status| CallError::Rpc {
            method,
            status: Box::new(status),
        };
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
                    self.tokens.forget().await;
                }
                Err(rpc(status))
            }
        }
    }

    pub(crate) async fn hello(&self, request: proto::HelloRequest) -> Result<(), CallError> {
        self.unary::<_, proto::Annotated>("Hello", path::HELLO, request, None)
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
        self.unary(
            "GetTask",
            path::GET_TASK,
            request,
            Some(Duration::from_secs(60)),
        )
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
        self.unary(
            "Heartbeat",
            path::HEARTBEAT,
            request,
            Some(Duration::from_secs(30)),
        )
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
            Some(Duration::from_secs(30)),
        )
        .await
        .map(|_| ())
    }

    /// Uploads `file` for `task_id`: metadata, the file in 512 KiB chunks, then its SHA-256.
    /// Returns the bytes sent.
    pub(crate) async fn upload(
        &self,
        host_id: &str,
        task_id: &str,
        file: &Path,
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
        let chunks = futures::stream::unfold(opened, |mut file| async move {
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
                buffer.truncate(filled);
                let chunk = proto::UploadAssetRequest {
                    msg: Some(proto::UploadMsg::Data(proto::UploadData { data: buffer })),
                };
                (chunk, file)
            })
        });
        let stream = futures::stream::once(async { metadata })
            .chain(chunks)
            .chain(futures::stream::once(async { eof }));
        let request = self.request(stream, None).await?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let rpc = |status: tonic::Status| CallError::Rpc {
            method: "UploadAsset",
            status: Box::new(status),
        };
        grpc.ready()
            .await
            .map_err(|e| rpc(tonic::Status::unavailable(connector_sdk::error_chain(&e))))?;
        grpc.client_streaming::<_, _, proto::Annotated, _>(
            request,
            PathAndQuery::from_static(path::UPLOAD_ASSET),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .map_err(rpc)?;
        Ok(size)
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
