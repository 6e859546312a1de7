//! The one request path: rate limit, token, headers, retries, error mapping, tracing.

use std::time::{Instant, SystemTime};

use backon::BackoffBuilder;
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;

use crate::auth::OAuthError;
use crate::client::Inner;
use crate::error::{ApiError, Error, error_messages};
use crate::retry::{Failure, Next, next_wait, parse_retry_after};

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    None,
    /// JSON bytes.
    Json(Bytes),
    /// The client-credentials token form; the secret is added where the request is built.
    TokenForm,
}

/// One API request, relative to the base URL.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// Path below the base URL, such as `api/users/5`.
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Body,
    /// The scope the endpoint needs, named in a 403 error.
    pub(crate) scope: Option<&'static str>,
}

impl Request {
    pub(crate) fn get(path: impl Into<String>, scope: &'static str) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: Body::None,
            scope: Some(scope),
        }
    }

    pub(crate) fn json(
        method: Method,
        path: impl Into<String>,
        scope: &'static str,
        body: Bytes,
    ) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: Body::Json(body),
            scope: Some(scope),
        }
    }

    fn is_token(&self) -> bool {
        matches!(self.body, Body::TokenForm)
    }

    /// GETs, and the token request (which changes nothing), may be repeated blindly.
    fn idempotent(&self) -> bool {
        self.method == Method::GET || self.is_token()
    }
}

fn classify(error: &reqwest::Error) -> Failure {
    if error.is_connect() {
        Failure::Connect
    } else if error.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Transport
    }
}

impl Inner {
    fn backoff(&self) -> impl Iterator<Item = std::time::Duration> + use<> {
        let retry = &self.config.retry;
        backon::ExponentialBuilder::default()
            .with_min_delay(retry.initial_backoff)
            .with_max_delay(retry.max_backoff)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }

    fn build(
        &self,
        request: &Request,
        token: Option<&secrecy::SecretString>,
    ) -> reqwest::RequestBuilder {
        let mut url = self.config.base_url.clone();
        url.set_path(&format!("{}{}", self.config.base_url.path(), request.path));
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .header(ACCEPT, "application/json");
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(token) = token {
            builder = builder.bearer_auth(token.expose_secret());
        }
        match &request.body {
            Body::None => builder,
            Body::Json(bytes) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Body::TokenForm => {
                let scope = self.config.scopes.join(" ");
                let secret = self.config.client_secret.expose_secret();
                match self.config.credential_style {
                    crate::config::CredentialStyle::Body => builder.form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", self.config.client_id.as_str()),
                        ("client_secret", secret),
                        ("scope", scope.as_str()),
                    ]),
                    crate::config::CredentialStyle::Basic => builder
                        .basic_auth(&self.config.client_id, Some(secret))
                        .form(&[
                            ("grant_type", "client_credentials"),
                            ("scope", scope.as_str()),
                        ]),
                }
            }
        }
    }

    /// Sends `request` and returns the body of a 2xx response. Every API call goes through here.
    pub(crate) async fn send(&self, request: &Request) -> Result<Bytes, Error> {
        let method = request.method.as_str();
        let path = format!("/{}", request.path);
        let started = Instant::now();
        let mut backoff = self.backoff();
        let mut attempts = 0u32;
        let mut refreshed = false;
        loop {
            self.budget.until_ready().await;
            let token = if request.is_token() {
                None
            } else {
                Some(self.token().await?)
            };
            attempts += 1;
            self.budget.counters().record_request();
            let sent = self
                .build(request, token.as_ref().map(|t| &t.value))
                .send()
                .await;
            let transport_failure = |source: reqwest::Error| {
                let failure = classify(&source);
                let error = Error::Transport {
                    method: method.to_owned(),
                    path: path.clone(),
                    source,
                };
                (failure, None, error)
            };
            let (failure, retry_after, error) = match sent {
                Err(source) => transport_failure(source),
                Ok(response) => {
                    let status = response.status();
                    tracing::debug!(method, path = %path, status = status.as_u16(), attempt = attempts, "coupa request");
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    self.budget.answered(status.as_u16(), retry_after);
                    if status.is_redirection() {
                        return Err(Error::Redirect {
                            method: method.to_owned(),
                            path,
                            status: status.as_u16(),
                            location: response
                                .headers()
                                .get(reqwest::header::LOCATION)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned),
                        });
                    }
                    match self.read_body(response, method, &path).await? {
                        Err(source) => transport_failure(source),
                        Ok(body) if status.is_success() => return Ok(body),
                        Ok(_)
                            if status == StatusCode::UNAUTHORIZED
                                && !request.is_token()
                                && !refreshed =>
                        {
                            // The token expired or was revoked: refresh once and retry at once.
                            refreshed = true;
                            if let Some(token) = &token {
                                self.invalidate(token.generation).await;
                            }
                            continue;
                        }
                        Ok(body) => {
                            let error = self.status_error(
                                request,
                                status,
                                &body,
                                retry_after,
                                attempts,
                                &path,
                            );
                            (Failure::Status(status.as_u16()), retry_after, error)
                        }
                    }
                }
            };
            match self.wait(
                request,
                failure,
                attempts,
                started,
                retry_after,
                &mut backoff,
            ) {
                Next::Retry(wait) => tokio::time::sleep(wait).await,
                Next::Stop => return Err(error),
                Next::WaitTooLong(asked) => {
                    return Err(Error::WaitTooLong {
                        method: method.to_owned(),
                        path,
                        asked,
                        allowed: self.config.retry.max_server_wait,
                    });
                }
            }
        }
    }

    /// Reads a response body of at most `max_body_bytes`: the outer error is the cap, the inner
    /// one a transport failure while reading.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        method: &str,
        path: &str,
    ) -> Result<Result<Bytes, reqwest::Error>, Error> {
        let limit = self.config.max_body_bytes;
        let too_large = || Error::BodyTooLarge {
            method: method.to_owned(),
            path: path.to_owned(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = bytes::BytesMut::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(Ok(body.freeze())),
                Err(e) => return Ok(Err(e)),
            }
        }
    }

    /// What to do after a failed attempt at `request`; counts and logs a retry.
    fn wait(
        &self,
        request: &Request,
        failure: Failure,
        attempts: u32,
        started: Instant,
        retry_after: Option<std::time::Duration>,
        backoff: &mut impl Iterator<Item = std::time::Duration>,
    ) -> Next {
        let next = backoff.next().unwrap_or(self.config.retry.max_backoff);
        let decision = next_wait(
            &self.config.retry,
            request.idempotent(),
            failure,
            attempts,
            started.elapsed(),
            retry_after,
            next,
        );
        let Next::Retry(wait) = decision else {
            return decision;
        };
        if failure == Failure::Status(429) {
            self.budget.counters().record_rate_limit_wait();
        } else {
            self.budget.counters().record_retry();
        }
        tracing::warn!(
            method = request.method.as_str(),
            path = %format_args!("/{}", request.path),
            failure = ?failure,
            attempt = attempts,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "retrying coupa request"
        );
        decision
    }

    fn status_error(
        &self,
        request: &Request,
        status: StatusCode,
        body: &[u8],
        retry_after: Option<std::time::Duration>,
        attempts: u32,
        path: &str,
    ) -> Error {
        let method = request.method.as_str().to_owned();
        let path = path.to_owned();
        if request.is_token() && status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS
        {
            let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
            let field = |k: &str| {
                parsed
                    .as_ref()
                    .and_then(|v| v.get(k))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            return Error::Auth {
                status: status.as_u16(),
                code: field("error").map(|c| OAuthError::from_code(&c)),
                description: field("error_description"),
            };
        }
        match status {
            StatusCode::UNAUTHORIZED => Error::Auth {
                status: 401,
                code: None,
                description: Some("the token was refused again after a refresh".into()),
            },
            StatusCode::FORBIDDEN => Error::Forbidden {
                method,
                path,
                scope: request.scope,
                messages: error_messages(body),
            },
            StatusCode::NOT_FOUND => Error::NotFound { method, path },
            StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
                method,
                path,
                retry_after,
                attempts,
            },
            _ => Error::Api(Box::new(ApiError {
                status: status.as_u16(),
                method,
                path,
                messages: error_messages(body),
                attempts,
            })),
        }
    }
}
