//! `PUT /api/users/{id}` and `POST /api/users` with Coupa's semantics.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::options::{ListWrite, UnknownIds};
use crate::render;
use crate::server::Reply;
use crate::state::State;
use crate::tenant::{AccessList, LICENSE_KEYS, SimUser, Tenant, user_list_mut};

fn list_for_key(key: &str) -> Option<AccessList> {
    Some(match key {
        "roles" => AccessList::Roles,
        "user-groups" | "user_groups" => AccessList::UserGroups,
        "account-groups" | "account_groups" => AccessList::AccountGroups,
        "approval-groups" | "approval_groups" => AccessList::ApprovalGroups,
        "content-groups" | "content_groups" | "business-groups" | "business_groups" => {
            AccessList::ContentGroups
        }
        _ => return None,
    })
}

fn license_for_key(key: &str) -> Option<&'static str> {
    let dashed = key.replace('_', "-");
    LICENSE_KEYS.iter().copied().find(|k| *k == dashed)
}

/// Ids named in a written list: `[{"id":N}]`, or `[{"name":"Buyer"}]` for roles. Unknown ones
/// are returned separately.
fn resolve(
    tenant: &Tenant,
    list: AccessList,
    value: &Value,
) -> Result<(BTreeSet<i64>, Vec<String>), String> {
    let items = match value {
        Value::Null => return Ok((BTreeSet::new(), Vec::new())),
        Value::Array(items) => items,
        _ => return Err(format!("{} must be an array", list.key())),
    };
    let objects = tenant.objects(list);
    let mut known = BTreeSet::new();
    let mut unknown = Vec::new();
    for item in items {
        let id = item.get("id").and_then(Value::as_i64);
        let name = item.get("name").and_then(Value::as_str);
        match (id, name) {
            (Some(id), _) if objects.contains_key(&id) => {
                known.insert(id);
            }
            (Some(id), _) => unknown.push(id.to_string()),
            (None, Some(name)) => match objects.values().find(|o| o.name == name) {
                Some(o) => {
                    known.insert(o.id);
                }
                None => unknown.push(name.to_owned()),
            },
            (None, None) => return Err(format!("{} items need an id or a name", list.key())),
        }
    }
    Ok((known, unknown))
}

fn taken(tenant: &Tenant, except: Option<i64>, user: &SimUser) -> Vec<String> {
    let mut messages = Vec::new();
    for other in tenant.users.values().filter(|u| Some(u.id) != except) {
        if other.login == user.login {
            messages.push("Login has already been taken".to_owned());
        }
        if other.email == user.email {
            messages.push("Email has already been taken".to_owned());
        }
        if user.employee_number.is_some() && other.employee_number == user.employee_number {
            messages.push("Employee number has already been taken".to_owned());
        }
    }
    messages.sort();
    messages.dedup();
    messages
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Reply::errors(
            400,
            "base",
            vec!["the body must be a JSON object".into()],
        )),
        Err(e) => Err(Reply::errors(
            400,
            "base",
            vec![format!("malformed JSON: {e}")],
        )),
    }
}

/// Applies the writable keys of `body` to `user`. Unknown keys are ignored, as Coupa does.
fn apply(
    state: &State,
    user: &mut SimUser,
    body: &Map<String, Value>,
    creating: bool,
) -> Result<(), Reply> {
    for (key, value) in body {
        if let Some(list) = list_for_key(key) {
            let (ids, unknown) = resolve(&state.tenant, list, value)
                .map_err(|e| Reply::errors(400, "user", vec![e]))?;
            if !unknown.is_empty() && state.options.unknown_ids == UnknownIds::NotFound {
                return Err(Reply::errors(
                    404,
                    "user",
                    vec![format!(
                        "no {} with id or name {}",
                        list.key(),
                        unknown.join(", ")
                    )],
                ));
            }
            let mode = state
                .options
                .list_writes
                .get(&list)
                .copied()
                .unwrap_or(ListWrite::Replace);
            let current = user_list_mut(user, list);
            if creating || mode == ListWrite::Replace || ids.is_empty() {
                *current = ids;
            } else {
                current.extend(ids);
            }
        } else if let Some(license) = license_for_key(key) {
            let held = value.as_bool().ok_or_else(|| {
                Reply::errors(400, "user", vec![format!("{key} must be true or false")])
            })?;
            if held {
                user.licenses.insert(license.to_owned());
            } else {
                user.licenses.remove(license);
            }
        } else {
            let text = || value.as_str().map(str::to_owned);
            match key.as_str() {
                "active" => {
                    user.active = value.as_bool().ok_or_else(|| {
                        Reply::errors(400, "user", vec!["active must be true or false".into()])
                    })?;
                }
                "login" => user.login = text().unwrap_or_default(),
                "email" => user.email = text().unwrap_or_default(),
                "firstname" => user.firstname = text().unwrap_or_default(),
                "lastname" => user.lastname = text().unwrap_or_default(),
                "employee-number" | "employee_number" => user.employee_number = text(),
                _ => {}
            }
        }
    }
    Ok(())
}

fn required(user: &SimUser) -> Vec<String> {
    let mut messages = Vec::new();
    for (value, name) in [
        (&user.login, "Login"),
        (&user.email, "Email"),
        (&user.firstname, "Firstname"),
        (&user.lastname, "Lastname"),
    ] {
        if value.trim().is_empty() {
            messages.push(format!("{name} can't be blank"));
        }
    }
    messages
}

pub(crate) fn update_user(state: &mut State, id: i64, body: &[u8]) -> Reply {
    let body = match body_object(body) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let Some(mut user) = state.tenant.users.get(&id).cloned() else {
        return Reply::empty(404);
    };
    if let Err(reply) = apply(state, &mut user, &body, false) {
        return reply;
    }
    let mut messages = required(&user);
    messages.extend(taken(&state.tenant, Some(id), &user));
    if !messages.is_empty() {
        return Reply::errors(400, "user", messages);
    }
    user.updated_at = "2026-01-01T00:00:00+00:00".into();
    state.tenant.users.insert(id, user);
    state.changed();
    let user = &state.tenant.users[&id];
    Reply::json(200, Value::Object(render::user(&state.tenant, user)))
}

pub(crate) fn create_user(state: &mut State, body: &[u8]) -> Reply {
    let body = match body_object(body) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let id = state.tenant.next_user_id();
    let mut user = SimUser::new(id, "", "", "");
    user.email.clear();
    user.employee_number = None;
    if let Err(reply) = apply(state, &mut user, &body, true) {
        return reply;
    }
    let mut messages = required(&user);
    messages.extend(taken(&state.tenant, None, &user));
    if !messages.is_empty() {
        return Reply::errors(400, "user", messages);
    }
    state.tenant.users.insert(id, user);
    state.changed();
    let user = &state.tenant.users[&id];
    Reply::json(201, Value::Object(render::user(&state.tenant, user)))
}
