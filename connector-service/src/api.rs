//! The HTTP handlers: health, metrics, and the `/v1` API.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use connector_sdk::{
    CreateAccountOutcome, EntitlementId, Grant, GrantOutcome, ResourceId, RevokeOutcome, RunId,
    RunStatus, Store, SyncRun,
};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiErrorKind};
use crate::serve::Peer;
use crate::{Auth, Shared, syncs};
use connector_sdk::Audit;

type St = State<Arc<Shared>>;

/// The `/v1` routes, behind authentication and the body cap.
pub(crate) fn v1(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let limit = shared.config.max_body_bytes;
    Router::new()
        .route("/syncs", post(start_sync))
        .route("/syncs/latest", get(latest_sync))
        .route("/syncs/{run}", get(sync_by_id))
        .route("/resources", get(resources))
        .route("/grants", get(grants))
        .route(
            "/entitlements/{entitlement}/principals/{principal}",
            put(grant).delete(revoke),
        )
        .route("/accounts", post(create_account))
        .route("/actions/{name}", post(run_action))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(shared, authenticate))
}

/// Requires `Authorization: Bearer <token>`, compared in constant time.
async fn authenticate(State(shared): St, request: Request, next: Next) -> Response {
    let Auth::Bearer(expected) = &shared.config.auth else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = expected.expose_secret().as_bytes();
    if bool::from(given.as_bytes().ct_eq(expected)) {
        next.run(request).await
    } else {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            ApiErrorKind::Unauthorized,
            "a valid `Authorization: Bearer <token>` header is required",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        response
    }
}

/// Runs a blocking store call off the async threads.
async fn store<T: Send + 'static>(
    shared: &Shared,
    f: impl FnOnce(&dyn Store) -> Result<T, connector_sdk::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(&shared.store);
    let store: Arc<dyn Store> = store;
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ApiErrorKind::Internal,
                e.to_string(),
            )
        })?
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ApiErrorKind::Store,
                connector_sdk::error_chain(&e),
            )
        })
}

/// 200 while every background task (the scheduler, the readiness checks) runs; 503 naming
/// those that stopped.
pub(crate) async fn livez(State(shared): St) -> Response {
    match crate::live(&shared) {
        Ok(()) => Json(json!({"live": true})).into_response(),
        Err(stopped) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"live": false, "stopped": stopped})),
        )
            .into_response(),
    }
}

pub(crate) async fn readyz(State(shared): St) -> Response {
    let ready = shared
        .ready
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let ready = match syncs::lock_store_failure(&shared).clone() {
        Some(reason) => Err(reason),
        None => ready,
    };
    match ready {
        Ok(warnings) => Json(json!({"ready": true, "warnings": warnings})).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": reason})),
        )
            .into_response(),
    }
}

/// Validates the connector now and then; readiness follows the last answer.
pub(crate) async fn check_readiness(shared: Arc<Shared>) {
    loop {
        let verdict = shared
            .registry
            .validate()
            .await
            .map_err(|e| connector_sdk::error_chain(&e));
        if let Err(reason) = &verdict {
            tracing::warn!(reason = %reason, "not ready");
        }
        *shared.ready.lock().unwrap_or_else(|p| p.into_inner()) = verdict;
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = tokio::time::sleep(shared.config.readiness_interval) => {}
        }
    }
}

pub(crate) async fn metrics(State(shared): St) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.render(shared.registry.stats()),
    )
        .into_response()
}

async fn start_sync(State(shared): St) -> Result<Response, ApiError> {
    let run = syncs::start(&shared).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"run": run}))).into_response())
}

fn rfc3339(ms: i64) -> Value {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or(Value::Null, Value::String)
}

/// A run as the API shows it.
async fn summary(shared: &Arc<Shared>, run: SyncRun) -> Result<Value, ApiError> {
    let id = run.id;
    let (counts, warnings) = store(shared, move |s| Ok((s.counts(id)?, s.warnings(id)?))).await?;
    let (in_flight, remembered) = {
        let syncs = shared.syncs.lock().unwrap_or_else(|p| p.into_inner());
        (syncs.running() == Some(id), syncs.error(id))
    };
    let (status, error) = match run.status {
        RunStatus::Completed => ("completed", None),
        RunStatus::Running if in_flight || run.holder.is_some() => ("running", None),
        RunStatus::Running => (
            "failed",
            Some(remembered.unwrap_or_else(|| {
                "stopped before completing; the next sync resumes it".to_owned()
            })),
        ),
        _ => ("failed", run.failure.or(remembered)),
    };
    let by_type = |map: &BTreeMap<connector_sdk::ResourceTypeId, u64>| -> Map<String, Value> {
        map.iter()
            .map(|(t, n)| (t.as_str().to_owned(), json!(n)))
            .collect()
    };
    Ok(json!({
        "run": id,
        "status": status,
        "started_at": rfc3339(run.started_at_ms),
        "finished_at": run.finished_at_ms.map_or(Value::Null, rfc3339),
        "resources": by_type(&counts.resources),
        "grants": by_type(&counts.grants),
        "warnings": warnings,
        "error": error,
    }))
}

async fn latest_sync(State(shared): St) -> Result<Json<Value>, ApiError> {
    let (connector, fingerprint) = ours(&shared);
    let run = store(&shared, move |s| {
        Ok(s.runs()?
            .into_iter()
            .rev()
            .find(|r| r.connector == connector && fingerprint.matches_stored(&r.fingerprint)))
    })
    .await?
    .ok_or_else(|| ApiError::not_found("no sync of this tenant has run yet"))?;
    Ok(Json(summary(&shared, run).await?))
}

async fn sync_by_id(State(shared): St, Path(run): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = run
        .parse::<RunId>()
        .map_err(|_| ApiError::bad_request(format!("run {run:?} is not a run number")))?;
    // A run of another tenant in the same store (a shared database) is not found either.
    let (connector, fingerprint) = ours(&shared);
    let found = store(&shared, move |s| {
        Ok(s.runs()?.into_iter().find(|r| {
            r.id == id && r.connector == connector && fingerprint.matches_stored(&r.fingerprint)
        }))
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no sync run {run}")))?;
    Ok(Json(summary(&shared, found).await?))
}

/// The connector's id and the fingerprint of its syncs as configured now.
fn ours(shared: &Shared) -> (String, connector_sdk::Fingerprint) {
    (
        shared.registry.metadata().id.clone(),
        shared.registry.fingerprint(),
    )
}

/// The latest completed run of this connector as configured now (its fingerprint: the tenant
/// and settings), which the read endpoints serve. A run of another tenant in the same store is
/// never served.
async fn served_run(shared: &Arc<Shared>) -> Result<RunId, ApiError> {
    let (connector, fingerprint) = ours(shared);
    store(shared, move |s| {
        Ok(s.runs()?
            .into_iter()
            .rev()
            .find(|r| {
                r.connector == connector
                    && r.status == RunStatus::Completed
                    && fingerprint.matches_stored(&r.fingerprint)
            })
            .map(|r| r.id))
    })
    .await?
    .ok_or_else(|| ApiError::not_found("no sync of this tenant has completed yet"))
}

/// A page token: the run it pages and where in it, as `{run}:{position}`. A token of another
/// run than the one served now is refused (409): positions mean nothing across runs.
fn page_position(query: &BTreeMap<String, String>, run: RunId) -> Result<Option<String>, ApiError> {
    let Some(token) = query.get("page_token").filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let (of, position) = token
        .split_once(':')
        .and_then(|(r, p)| Some((r.parse::<RunId>().ok()?, p)))
        .ok_or_else(|| ApiError::bad_request(format!("page_token {token:?} is not one of ours")))?;
    if of != run {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ApiErrorKind::PageTokenStale,
            format!(
                "page_token belongs to run {of}; run {run} is served now: start again without a \
                 page_token"
            ),
        ));
    }
    Ok(Some(position.to_owned()))
}

fn page_token(run: RunId, position: impl std::fmt::Display) -> String {
    format!("{run}:{position}")
}

async fn resources(
    State(shared): St,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let resource_type = query
        .get("type")
        .filter(|t| !t.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("`type` is required, such as ?type=user"))?;
    let run = served_run(&shared).await?;
    let after = page_position(&query, run)?;
    let limit = shared.config.page_size.max(1);
    let page = store(&shared, move |s| {
        s.resources_page(run, &resource_type.as_str().into(), after.as_deref(), limit)
    })
    .await?;
    let next = (page.len() == limit)
        .then(|| page.last().map(|r| page_token(run, &r.id.id)))
        .flatten();
    Ok(Json(json!({
        "run": run,
        "resources": page,
        "next_page_token": next,
    })))
}

async fn grants(
    State(shared): St,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    enum By {
        Entitlement(EntitlementId),
        Principal(ResourceId),
    }
    let by = match (query.get("entitlement"), query.get("principal")) {
        (Some(e), None) => By::Entitlement(
            e.parse()
                .map_err(|err| ApiError::bad_request(format!("entitlement {e:?}: {err}")))?,
        ),
        (None, Some(p)) => By::Principal(
            p.parse()
                .map_err(|err| ApiError::bad_request(format!("principal {p:?}: {err}")))?,
        ),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `entitlement` or `principal`",
            ));
        }
    };
    let run = served_run(&shared).await?;
    // Keyset pages: the token holds the last item's key (the principal of an entitlement's
    // grants, the entitlement of a principal's), so a page costs the same wherever it is.
    let after = page_position(&query, run)?;
    let bad_token =
        |p: &str| ApiError::bad_request(format!("page_token position {p:?} is not one of ours"));
    let limit = shared.config.page_size.max(1);
    let (mut page, by): (Vec<Grant>, By) = match by {
        By::Entitlement(id) => {
            let after: Option<ResourceId> = match after {
                None => None,
                Some(p) => Some(p.parse().map_err(|_| bad_token(&p))?),
            };
            let key = id.clone();
            let page = store(&shared, move |s| {
                s.grants_for_entitlement_page(run, &key, after.as_ref(), limit + 1)
            })
            .await?;
            (page, By::Entitlement(id))
        }
        By::Principal(id) => {
            let after: Option<EntitlementId> = match after {
                None => None,
                Some(p) => Some(p.parse().map_err(|_| bad_token(&p))?),
            };
            let key = id.clone();
            let page = store(&shared, move |s| {
                s.grants_for_principal_page(run, &key, after.as_ref(), limit + 1)
            })
            .await?;
            (page, By::Principal(id))
        }
    };
    let more = page.len() > limit;
    page.truncate(limit);
    let next = more
        .then(|| {
            page.last().map(|g| match &by {
                By::Entitlement(_) => page_token(run, &g.principal),
                By::Principal(_) => page_token(run, &g.entitlement),
            })
        })
        .flatten();
    let page: Vec<Value> = page
        .iter()
        .map(|g| {
            json!({"id": g.id().to_string(), "entitlement": g.entitlement.to_string(),
                   "principal": g.principal.to_string()})
        })
        .collect();
    Ok(Json(
        json!({"run": run, "grants": page, "next_page_token": next}),
    ))
}

fn ids(entitlement: &str, principal: &str) -> Result<(EntitlementId, ResourceId), ApiError> {
    let e = entitlement
        .parse()
        .map_err(|err| ApiError::bad_request(format!("entitlement {entitlement:?}: {err}")))?;
    let p = principal
        .parse()
        .map_err(|err| ApiError::bad_request(format!("principal {principal:?}: {err}")))?;
    Ok((e, p))
}

/// Runs a write in a task of its own, tracked by the service: a client that disconnects does not
/// cut it, and shutdown waits for it. Refused once shutdown has begun. Its outcome is logged as
/// one audit event.
async fn write<T: Send + 'static>(
    shared: &Arc<Shared>,
    peer: Option<Peer>,
    mut event: Audit,
    run: impl Future<Output = Result<(T, &'static str), connector_sdk::Error>> + Send + 'static,
) -> Result<T, ApiError> {
    if shared.shutdown.is_cancelled() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ApiErrorKind::ShuttingDown,
            "the service is shutting down; try again once it is back",
        ));
    }
    event.actor = peer.map_or_else(
        || "bearer token".to_owned(),
        |p| format!("bearer token from {}", p.0),
    );
    let written = shared.writes.spawn(async move {
        let result = run.await;
        match &result {
            Ok((_, outcome)) => event.succeeded(outcome, !outcome.starts_with("already_")),
            Err(error) => event.failed(error),
        }
        result
    });
    let (value, _) = written.await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ApiErrorKind::Internal,
            e.to_string(),
        )
    })??;
    Ok(value)
}

async fn grant(
    State(shared): St,
    peer: Option<Extension<Peer>>,
    Path((entitlement, principal)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (e, p) = ids(&entitlement, &principal)?;
    let event = Audit::new("http", "grant")
        .with_entitlement(&e)
        .with_principal(&p);
    let registry = shared.registry.clone();
    let outcome = write(&shared, peer.map(|p| p.0), event, async move {
        let outcome = match registry
            .grant(connector_sdk::GrantRequest::new(p.clone(), e.clone()))
            .await?
        {
            GrantOutcome::Granted { .. } => "granted",
            _ => "already_granted",
        };
        Ok((outcome, outcome))
    })
    .await?;
    Ok(Json(json!({"outcome": outcome})))
}

async fn revoke(
    State(shared): St,
    peer: Option<Extension<Peer>>,
    Path((entitlement, principal)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (e, p) = ids(&entitlement, &principal)?;
    let event = Audit::new("http", "revoke")
        .with_entitlement(&e)
        .with_principal(&p);
    let registry = shared.registry.clone();
    let outcome = write(&shared, peer.map(|p| p.0), event, async move {
        let outcome = match registry
            .revoke(connector_sdk::RevokeRequest::new(Grant::new(e, p)))
            .await?
        {
            RevokeOutcome::Revoked => "revoked",
            _ => "already_revoked",
        };
        Ok((outcome, outcome))
    })
    .await?;
    Ok(Json(json!({"outcome": outcome})))
}

/// A JSON object body, or a 400/413 that says what is wrong with it.
fn object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let kind = if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiErrorKind::PayloadTooLarge
        } else {
            ApiErrorKind::BadRequest
        };
        ApiError::new(status, kind, rejection.body_text())
    })?;
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
    }
}

async fn create_account(
    State(shared): St,
    peer: Option<Extension<Peer>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let fields = object(body)?;
    let registry = shared.registry.clone();
    let event = Audit::new("http", "create_account");
    let outcome = write(&shared, peer.map(|p| p.0), event, async move {
        let outcome = registry
            .create_account(fields, connector_sdk::CallContext::default())
            .await?;
        let word = match &outcome {
            CreateAccountOutcome::Created(_) => "created",
            CreateAccountOutcome::AlreadyExists(_) => "already_exists",
            _ => "other",
        };
        Ok((outcome, word))
    })
    .await?;
    Ok(match outcome {
        CreateAccountOutcome::Created(account) => {
            (StatusCode::CREATED, Json(json!({"account": account}))).into_response()
        }
        CreateAccountOutcome::AlreadyExists(account) => (
            StatusCode::CONFLICT,
            Json(json!({
                "error": {"kind": ApiErrorKind::AlreadyExists.as_str(), "message": format!("{} already exists", account.id)},
                "account": account,
            })),
        )
            .into_response(),
        other => (StatusCode::OK, Json(json!({"outcome": format!("{other:?}")}))).into_response(),
    })
}

async fn run_action(
    State(shared): St,
    peer: Option<Extension<Peer>>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let arguments = object(body)?;
    let registry = shared.registry.clone();
    let event = Audit::new("http", "action").with_action(&name);
    let result = write(&shared, peer.map(|p| p.0), event, async move {
        let result = registry
            .run_action(&name, arguments, connector_sdk::CallContext::default())
            .await?;
        Ok((result, "ran"))
    })
    .await?;
    Ok(Json(json!({"result": result})))
}
