//! Routing and the read endpoints: token, lists, records.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use serde_json::{Map, Value, json};
use wiremock::Request;

use crate::options::{CLIENT_ID, CLIENT_SECRET, UngrantedScope};
use crate::query::{self, ListQuery};
use crate::render::{self, parse_fields, project};
use crate::server::Reply;
use crate::state::{IssuedToken, State};
use crate::tenant::AccessList;
use crate::writes;

/// What a request is for.
enum Collection {
    Users,
    Named(AccessList),
}

fn collection(segment: &str) -> Option<(Collection, &'static str, &'static str)> {
    Some(match segment {
        "users" => (Collection::Users, "core.user.read", "core.user.write"),
        "user_groups" => (
            Collection::Named(AccessList::UserGroups),
            "core.user_group.read",
            "core.user_group.write",
        ),
        "roles" => (
            Collection::Named(AccessList::Roles),
            "core.common.read",
            "core.common.write",
        ),
        "account_groups" => (
            Collection::Named(AccessList::AccountGroups),
            "core.accounting.read",
            "core.accounting.write",
        ),
        "business_groups" => (
            Collection::Named(AccessList::ContentGroups),
            "core.common.read",
            "core.common.write",
        ),
        _ => return None,
    })
}

pub(crate) fn route(
    state: &mut State,
    request: &Request,
    method: &str,
    path: &str,
    query: &[(String, String)],
) -> Reply {
    if path == "/oauth2/token" {
        return if method == "POST" {
            token(state, request)
        } else {
            Reply::empty(404)
        };
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (name, id) = match segments.as_slice() {
        ["api", name] => (*name, None),
        ["api", name, id] => (*name, Some(*id)),
        _ => return Reply::empty(404),
    };
    let Some((collection, read_scope, write_scope)) = collection(name) else {
        return Reply::empty(404);
    };
    let write = method != "GET";
    if let Err(reply) = authorize(state, request, if write { write_scope } else { read_scope }) {
        return reply;
    }
    if matches!(collection, Collection::Named(AccessList::Roles)) && !state.options.serve_roles {
        return Reply::empty(404);
    }
    // Strict ids: `5%3Ffields=...` is not user 5.
    let id = match id.map(|s| s.parse::<i64>()) {
        None => None,
        Some(Ok(id)) if id > 0 => Some(id),
        Some(_) => return Reply::empty(404),
    };
    let fields = match query.iter().find(|(k, _)| k == "fields") {
        None => None,
        Some((_, text)) => match parse_fields(text) {
            Ok(fields) => Some(fields),
            Err(e) => return Reply::errors(400, "fields", vec![e.0]),
        },
    };
    if let Some(name) = fields
        .as_ref()
        .and_then(|f| render::rejected(f, &state.options.rejected_fields))
    {
        return Reply::errors(400, "fields", vec![format!("unknown field {name}")]);
    }
    match (method, collection, id) {
        ("GET", collection, None) => list(state, collection, query),
        ("GET", Collection::Users, Some(id)) => match state.tenant.users.get(&id) {
            Some(user) => {
                let record = user_record(state, user);
                Reply::json(200, Value::Object(shape(state, record, fields.as_ref())))
            }
            None => Reply::empty(404),
        },
        ("GET", Collection::Named(kind), Some(id)) => match state.tenant.objects(kind).get(&id) {
            Some(object) => {
                let record = render::named(object, kind);
                Reply::json(200, Value::Object(shape(state, record, fields.as_ref())))
            }
            None => Reply::empty(404),
        },
        ("PUT", Collection::Users, Some(id)) => {
            let reply = writes::update_user(state, id, &request.body);
            reshape(state, reply, fields.as_ref())
        }
        ("POST", Collection::Users, None) => {
            let reply = writes::create_user(state, &request.body);
            reshape(state, reply, fields.as_ref())
        }
        _ => Reply::empty(404),
    }
}

/// A user as the tenant serves it: the full record less the omitted keys.
fn user_record(state: &State, user: &crate::tenant::SimUser) -> Map<String, Value> {
    let mut record = render::user(&state.tenant, user);
    mask(state, &mut record);
    record
}

/// Leaves out the omitted keys and sets the nulled ones to `null`.
fn mask(state: &State, record: &mut Map<String, Value>) {
    for key in &state.options.omitted_user_keys {
        record.remove(key);
    }
    for key in &state.options.null_user_keys {
        record.insert(key.clone(), Value::Null);
    }
}

/// Projects a record, or hides the "newer" keys when there is no projection.
fn shape(state: &State, record: Map<String, Value>, fields: Option<&Value>) -> Map<String, Value> {
    match fields {
        Some(fields) => project(&record, fields),
        None => {
            let mut record = record;
            for key in &state.options.hidden_unless_projected {
                record.remove(key);
            }
            record
        }
    }
}

/// Shapes the user record of a write's answer as a read would: keys masked, then
/// projected or with the newer keys hidden.
fn reshape(state: &State, reply: Reply, fields: Option<&Value>) -> Reply {
    match reply.body {
        Some(Value::Object(mut record)) if reply.status < 300 => {
            mask(state, &mut record);
            let fields = fields.filter(|_| state.options.project_write_answers);
            Reply::json(reply.status, Value::Object(shape(state, record, fields)))
        }
        _ => reply,
    }
}

fn token(state: &mut State, request: &Request) -> Reply {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let invalid = |code: &str, description: &str| {
        Reply::json(
            400,
            json!({"error": code, "error_description": description}),
        )
    };
    if field("grant_type").as_deref() != Some("client_credentials") {
        return invalid(
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let basic = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    let (id, secret) = match basic {
        Some(pair) => pair,
        None => (
            field("client_id").unwrap_or_default(),
            field("client_secret").unwrap_or_default(),
        ),
    };
    if id != CLIENT_ID || secret != CLIENT_SECRET {
        return invalid("invalid_client", "Client authentication failed");
    }
    let requested: Vec<String> = field("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let granted = &state.options.granted_scopes;
    let missing: Vec<&String> = requested.iter().filter(|s| !granted.contains(*s)).collect();
    if !missing.is_empty() && state.options.ungranted_scope == UngrantedScope::Reject {
        return invalid(
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed",
        );
    }
    let scopes: std::collections::BTreeSet<String> = if requested.is_empty() {
        granted.clone()
    } else {
        requested
            .into_iter()
            .filter(|s| granted.contains(s))
            .collect()
    };
    state.minted += 1;
    let access_token = format!("sim-token-{}-{}", state.minted, state.version);
    let lifetime = state.options.token_lifetime;
    let scope_text = scopes.iter().cloned().collect::<Vec<_>>().join(" ");
    state.tokens.insert(
        access_token.clone(),
        IssuedToken {
            scopes,
            expires_at: Instant::now() + lifetime,
        },
    );
    Reply::json(
        200,
        json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": lifetime.as_secs(),
            "scope": scope_text
        }),
    )
}

fn authorize(state: &State, request: &Request, scope: &str) -> Result<(), Reply> {
    let token = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(issued) = token.and_then(|t| state.tokens.get(t)) else {
        return Err(Reply::empty(401));
    };
    if Instant::now() >= issued.expires_at {
        return Err(Reply::empty(401));
    }
    if !issued.scopes.contains(scope) {
        return Err(Reply::errors(
            403,
            "base",
            vec![format!("The access token lacks the scope {scope}")],
        ));
    }
    Ok(())
}

/// The full JSON a filter is evaluated against (users also get `status`).
fn filter_view(state: &State, collection: &Collection, id: i64) -> Option<Map<String, Value>> {
    match collection {
        Collection::Users => state.tenant.users.get(&id).map(|u| {
            let mut record = render::user(&state.tenant, u);
            let status = if u.active { "active" } else { "inactive" };
            record.insert("status".into(), json!(status));
            record
        }),
        Collection::Named(kind) => state
            .tenant
            .objects(*kind)
            .get(&id)
            .map(|o| render::named(o, *kind)),
    }
}

fn list(state: &mut State, collection: Collection, pairs: &[(String, String)]) -> Reply {
    let query = match query::parse(pairs) {
        Ok(q) => q,
        Err(e) => return Reply::errors(400, "query", vec![e]),
    };
    let ids = match matching_ids(state, &collection, pairs, &query) {
        Ok(ids) => ids,
        Err(e) => return Reply::errors(400, "query", vec![e]),
    };
    let start = query
        .after_id
        .map_or(0, |after| ids.partition_point(|id| *id <= after));
    let fields = query.fields.as_deref().map(parse_fields);
    let fields = match fields.transpose() {
        Ok(f) => f,
        Err(e) => return Reply::errors(400, "fields", vec![e.0]),
    };
    let rows: Vec<Value> = ids
        .iter()
        .skip(start + query.offset)
        .take(query.limit)
        .filter_map(|id| {
            let record = match &collection {
                Collection::Users => user_record(state, state.tenant.users.get(id)?),
                Collection::Named(kind) => {
                    render::named(state.tenant.objects(*kind).get(id)?, *kind)
                }
            };
            Some(Value::Object(shape(state, record, fields.as_ref())))
        })
        .collect();
    Reply::json(200, Value::Array(rows))
}

/// Ids matching every filter except `id[gt]` (applied by the caller), cached per tenant version.
fn matching_ids(
    state: &mut State,
    collection: &Collection,
    pairs: &[(String, String)],
    query: &ListQuery,
) -> Result<Arc<Vec<i64>>, String> {
    let name = match collection {
        Collection::Users => "users".to_owned(),
        Collection::Named(kind) => kind.key().to_owned(),
    };
    let mut key_parts: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "limit" | "offset" | "fields" | "id[gt]"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    key_parts.sort();
    let key = format!("{name}?{}", key_parts.join("&"));
    if let Some((version, ids)) = state.list_cache.get(&key)
        && *version == state.version
    {
        return Ok(ids.clone());
    }
    let all: Vec<i64> = match collection {
        Collection::Users => state.tenant.users.keys().copied().collect(),
        Collection::Named(kind) => state.tenant.objects(*kind).keys().copied().collect(),
    };
    let filters: Vec<_> = query
        .filters
        .iter()
        .filter(|f| !f.is_id_gt() && !state.options.ignore_filters)
        .collect();
    let mut ids = Vec::with_capacity(all.len());
    for id in all {
        if filters.is_empty() {
            ids.push(id);
            continue;
        }
        let Some(view) = filter_view(state, collection, id) else {
            continue;
        };
        let mut keep = true;
        for filter in &filters {
            if !filter.matches(&view)? {
                keep = false;
                break;
            }
        }
        if keep {
            ids.push(id);
        }
    }
    let ids = Arc::new(ids);
    state.list_cache.insert(key, (state.version, ids.clone()));
    Ok(ids)
}
