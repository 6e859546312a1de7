//! `grant`, `revoke` and `create_account`.

use std::time::Duration;

use connector_sdk::{
    CallContext, CreateAccountOutcome, FieldKind, GrantOutcome, GrantRequest, ResourceTrait,
    RevokeOutcome, RevokeRequest,
};
use prost::Message;
use serde_json::{Map, Value};

use super::{Finish, malformed, sdk_error};
use crate::proto::{self, code};
use crate::shared::Shared;

fn duration(d: Option<prost_types::Duration>) -> Option<Duration> {
    d.and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
}

pub(super) async fn grant(shared: &Shared, task: proto::GrantTask) -> Finish {
    let entitlement = match c1z::wire::read_entitlement(&task.entitlement) {
        Ok(e) => e.id,
        Err(e) => return malformed("grant", e),
    };
    let principal = match c1z::wire::read_resource(&task.principal) {
        Ok(r) => r.id,
        Err(e) => return malformed("grant", e),
    };
    let mut request = GrantRequest::new(principal.clone(), entitlement.clone())
        .with_context(CallContext::default().with_actor("ConductorOne"));
    if let Some(d) = duration(task.duration) {
        request = request.with_duration(d);
    }
    match shared.registry.grant(request).await {
        Ok(outcome) => {
            let mut annotations = Vec::new();
            // The grants the connector made; a grant already held is the one asked for.
            let grants = match &outcome {
                GrantOutcome::Granted { grants, .. } => {
                    grants.iter().map(c1z::wire::grant).collect()
                }
                _ => {
                    annotations.push(proto::any("c1.connector.v2.GrantAlreadyExists", Vec::new()));
                    vec![c1z::wire::grant(&connector_sdk::Grant::new(
                        entitlement,
                        principal,
                    ))]
                }
            };
            let response = proto::GrantResponse {
                annotations: annotations.clone(),
                grants,
            };
            Finish::Success {
                response: Some((
                    "c1.connector.v2.GrantManagerServiceGrantResponse",
                    response.encode_to_vec(),
                )),
                annotations,
            }
        }
        Err(error) => sdk_error(&error),
    }
}

pub(super) async fn revoke(shared: &Shared, task: proto::RevokeTask) -> Finish {
    let grant = match c1z::wire::read_grant(&task.grant) {
        Ok(g) => g,
        Err(e) => return malformed("revoke", e),
    };
    let request =
        RevokeRequest::new(grant).with_context(CallContext::default().with_actor("ConductorOne"));
    match shared.registry.revoke(request).await {
        Ok(outcome) => {
            let mut annotations = Vec::new();
            if matches!(outcome, RevokeOutcome::AlreadyRevoked) {
                annotations.push(proto::any(
                    "c1.connector.v2.GrantAlreadyRevoked",
                    Vec::new(),
                ));
            }
            let response = proto::Annotated {
                annotations: annotations.clone(),
            };
            Finish::Success {
                response: Some((
                    "c1.connector.v2.GrantManagerServiceRevokeResponse",
                    response.encode_to_vec(),
                )),
                annotations,
            }
        }
        Err(error) => sdk_error(&error),
    }
}

/// The account fields an AccountInfo names: `login`, `email` (the primary address, else the
/// first) and the profile's keys, each only where the connector's schema declares it.
fn account_fields(
    schema: &[connector_sdk::FieldSpec],
    info: &proto::AccountInfo,
) -> Result<Map<String, Value>, String> {
    let declared = |name: &str| schema.iter().find(|f| f.name == name);
    let mut fields = Map::new();
    if !info.login.is_empty() && declared("login").is_some() {
        fields.insert("login".into(), Value::String(info.login.clone()));
    }
    let email = info
        .emails
        .iter()
        .find(|e| e.is_primary)
        .or_else(|| info.emails.first());
    if let (Some(email), Some(_)) = (email, declared("email")) {
        fields.insert("email".into(), Value::String(email.address.clone()));
    }
    let profile = if info.profile.is_empty() {
        Map::new()
    } else {
        c1z::wire::read_json_struct(&info.profile).map_err(|e| e.to_string())?
    };
    let mut ignored = Vec::new();
    for (key, value) in profile {
        match declared(&key) {
            Some(spec) if !fields.contains_key(&key) => {
                let value = match (spec.kind, value) {
                    (FieldKind::String, Value::Number(n)) => Value::String(n.to_string()),
                    (_, value) => value,
                };
                fields.insert(key, value);
            }
            Some(_) => {}
            None => ignored.push(key),
        }
    }
    if !ignored.is_empty() {
        tracing::warn!(keys = ?ignored, "profile keys the account schema does not declare were ignored");
    }
    Ok(fields)
}

pub(super) async fn create_account(shared: &Shared, task: proto::CreateAccountTask) -> Finish {
    let Some(info) = task.account_info else {
        return malformed("create account", "account_info is missing");
    };
    let manifest = shared.registry.manifest();
    let Some(schema) = manifest.account_creation else {
        return Finish::error(
            code::UNIMPLEMENTED,
            "the connector does not create accounts",
            true,
        );
    };
    let fields = match account_fields(&schema.fields, &info) {
        Ok(fields) => fields,
        Err(e) => return malformed("create account", e),
    };
    let context = CallContext::default().with_actor("ConductorOne");
    match shared.registry.create_account(fields, context).await {
        Ok(outcome) => {
            let (resource, created) = match outcome {
                CreateAccountOutcome::Created(r) => (r, true),
                CreateAccountOutcome::AlreadyExists(r) => (r, false),
                other => {
                    return Finish::error(
                        code::UNKNOWN,
                        format!("unexpected account outcome {other:?}"),
                        true,
                    );
                }
            };
            let traits: Vec<ResourceTrait> = shared
                .registry
                .resource_types()
                .into_iter()
                .find(|t| t.id == resource.id.resource_type)
                .map(|t| t.traits)
                .unwrap_or_default();
            let account = proto::AccountResource {
                resource: c1z::wire::resource(&resource, &traits),
                is_create_account_result: true,
            };
            let result = if created {
                proto::AccountResult::Success(account)
            } else {
                proto::AccountResult::AlreadyExists(account)
            };
            let response = proto::CreateAccountResponse {
                result: Some(result),
                annotations: Vec::new(),
            };
            Finish::success(
                "c1.connector.v2.CreateAccountResponse",
                response.encode_to_vec(),
            )
        }
        Err(error) => sdk_error(&error),
    }
}
