//! Records as Coupa's JSON (hyphenated keys, embedded associations), and `fields=` projection.

use serde_json::{Map, Value, json};

use crate::tenant::{
    APPROVAL_LIMIT_KEYS, AccessList, LICENSE_KEYS, Named, SimUser, Tenant, user_list,
};

fn refs(tenant: &Tenant, user: &SimUser, list: AccessList) -> Value {
    let objects = tenant.objects(list);
    Value::Array(
        user_list(user, list)
            .iter()
            .map(|id| {
                let name = objects.get(id).map_or("", |o| o.name.as_str());
                json!({"id": id, "name": name})
            })
            .collect(),
    )
}

/// A user as `GET /api/users/{id}` returns it.
pub(crate) fn user(tenant: &Tenant, user: &SimUser) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("id".into(), json!(user.id));
    map.insert("created-at".into(), json!("2016-11-08T11:28:50+02:00"));
    map.insert("updated-at".into(), json!(user.updated_at));
    map.insert("login".into(), json!(user.login));
    map.insert("email".into(), json!(user.email));
    map.insert("firstname".into(), json!(user.firstname));
    map.insert("lastname".into(), json!(user.lastname));
    map.insert("middlename".into(), Value::Null);
    map.insert(
        "fullname".into(),
        json!(format!("{} {}", user.firstname, user.lastname)),
    );
    map.insert("employee-number".into(), json!(user.employee_number));
    map.insert("mention-name".into(), json!(user.login));
    map.insert("active".into(), json!(user.active));
    map.insert("api-user".into(), json!(false));
    map.insert("authentication-method".into(), json!("coupa_credentials"));
    map.insert("default-locale".into(), json!("en"));
    map.insert("default-currency".into(), json!({"code": "USD"}));
    for key in LICENSE_KEYS {
        map.insert(key.into(), json!(user.licenses.contains(key)));
    }
    for list in AccessList::ALL {
        map.insert(list.key().into(), refs(tenant, user, list));
    }
    for key in APPROVAL_LIMIT_KEYS {
        let limit = user
            .approval_limits
            .get(key)
            .and_then(|id| tenant.approval_limits.get(id));
        let value = limit.map_or(Value::Null, |l| {
            json!({
                "id": l.id,
                "name": format!("{} {}", l.amount, l.currency),
                "amount": l.amount,
                "currency": {"id": currency_id(&l.currency), "code": l.currency, "decimals": 2},
                "subject": l.subject,
            })
        });
        map.insert(key.into(), value);
    }
    map.insert("custom-fields".into(), json!({}));
    map
}

/// A made-up but stable id of a currency code.
fn currency_id(code: &str) -> i64 {
    match code {
        "USD" => 1,
        "EUR" => 2,
        _ => 99,
    }
}

/// A user group, role, account group or content group.
pub(crate) fn named(object: &Named, kind: AccessList) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("id".into(), json!(object.id));
    map.insert("name".into(), json!(object.name));
    match kind {
        AccessList::AccountGroups => {
            map.insert("account-group-type".into(), json!(1));
            map.insert("account-type".into(), json!({"id": 1, "name": "Default"}));
        }
        AccessList::UserGroups | AccessList::ApprovalGroups => {
            map.insert("description".into(), json!(object.description));
            map.insert("active".into(), json!(true));
            map.insert("type".into(), Value::Null);
            map.insert("can-approve".into(), json!(object.can_approve));
        }
        AccessList::Roles | AccessList::ContentGroups => {
            map.insert("description".into(), json!(object.description));
        }
    }
    map.insert("created-at".into(), json!("2016-11-08T11:28:50+02:00"));
    map
}

/// Why a `fields` parameter was refused.
#[derive(Debug)]
pub(crate) struct BadFields(pub(crate) String);

/// Parses a `fields` parameter: a JSON array of names and `{name: [...]}` objects.
pub(crate) fn parse_fields(text: &str) -> Result<Value, BadFields> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| BadFields(format!("fields is not JSON: {e}")))?;
    fn check(value: &Value) -> Result<(), BadFields> {
        let items = value
            .as_array()
            .ok_or_else(|| BadFields("fields must be a JSON array".into()))?;
        for item in items {
            match item {
                Value::String(_) => {}
                Value::Object(map) => map.values().try_for_each(check)?,
                other => return Err(BadFields(format!("unexpected fields item {other}"))),
            }
        }
        Ok(())
    }
    check(&value)?;
    Ok(value)
}

/// The first name of a projection (at any depth) that `rejected` holds, dashes and underscores
/// alike.
pub(crate) fn rejected(
    fields: &Value,
    rejected: &std::collections::BTreeSet<String>,
) -> Option<String> {
    let hit = |name: &str| rejected.contains(&name.replace('_', "-"));
    fields.as_array()?.iter().find_map(|item| match item {
        Value::String(name) if hit(name) => Some(name.clone()),
        Value::Object(nested) => nested.iter().find_map(|(name, inner)| {
            if hit(name) {
                Some(name.clone())
            } else {
                self::rejected(inner, rejected)
            }
        }),
        _ => None,
    })
}

/// Keeps only the projected keys of `record` (nested projections apply to each embedded
/// object). Keys are matched with dashes and underscores alike.
pub(crate) fn project(record: &Map<String, Value>, fields: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(items) = fields.as_array() else {
        return out;
    };
    let find = |name: &str| -> Option<(String, &Value)> {
        let dashed = name.replace('_', "-");
        record
            .get_key_value(name)
            .or_else(|| record.get_key_value(&dashed))
            .map(|(k, v)| (k.clone(), v))
    };
    for item in items {
        match item {
            Value::String(name) => {
                if let Some((key, value)) = find(name) {
                    out.insert(key, value.clone());
                }
            }
            Value::Object(nested) => {
                for (name, inner) in nested {
                    if let Some((key, value)) = find(name) {
                        let projected = match value {
                            Value::Array(items) => Value::Array(
                                items
                                    .iter()
                                    .map(|v| match v {
                                        Value::Object(o) => Value::Object(project(o, inner)),
                                        other => other.clone(),
                                    })
                                    .collect(),
                            ),
                            Value::Object(o) => Value::Object(project(o, inner)),
                            other => other.clone(),
                        };
                        out.insert(key, projected);
                    }
                }
            }
            _ => {}
        }
    }
    out
}
