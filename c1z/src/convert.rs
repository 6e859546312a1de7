//! The SDK model as baton's messages, and back.
//!
//! Ids are built from their structured parts, joined with `:` as baton writes them (never by
//! splitting a string): resource `<type>:<id>`, entitlement `<type>:<id>:<slug>`, grant
//! `<entitlement id>:<principal type>:<principal id>`.

use connector_sdk::{
    AccountType, Annotation, Entitlement, EntitlementId, Grant, Purpose, Resource, ResourceId,
    ResourceStatus, ResourceTrait, ResourceType, ResourceTypeId, UserTrait,
};
use prost::Message;
use prost_types::{Any, ListValue, Struct, Value, value::Kind};
use serde_json::{Map, Number, Value as Json};

use crate::pb::{self, names};

/// A resource's `external_id`: `<type>:<id>`.
pub(crate) fn resource_key(id: &ResourceId) -> String {
    format!("{}:{}", id.resource_type.as_str(), id.id)
}

/// An entitlement's id: `<type>:<id>:<slug>`.
pub(crate) fn entitlement_key(id: &EntitlementId) -> String {
    format!("{}:{}", resource_key(&id.resource), id.slug)
}

/// A grant's id: `<entitlement id>:<principal type>:<principal id>`.
pub(crate) fn grant_key(grant: &Grant) -> String {
    format!(
        "{}:{}",
        entitlement_key(&grant.entitlement),
        resource_key(&grant.principal)
    )
}

fn trait_value(t: ResourceTrait) -> pb::Trait {
    match t {
        ResourceTrait::User => pb::Trait::User,
        ResourceTrait::Group => pb::Trait::Group,
        ResourceTrait::Role => pb::Trait::Role,
        ResourceTrait::LicenseProfile => pb::Trait::LicenseProfile,
        ResourceTrait::App => pb::Trait::App,
        _ => pb::Trait::Unspecified,
    }
}

fn trait_from(value: i32) -> Option<ResourceTrait> {
    match pb::Trait::try_from(value).ok()? {
        pb::Trait::User => Some(ResourceTrait::User),
        pb::Trait::Group => Some(ResourceTrait::Group),
        pb::Trait::Role => Some(ResourceTrait::Role),
        pb::Trait::LicenseProfile => Some(ResourceTrait::LicenseProfile),
        pb::Trait::App => Some(ResourceTrait::App),
        pb::Trait::Unspecified => None,
    }
}

/// A resource type as baton's message.
pub(crate) fn resource_type(rt: &ResourceType) -> pb::ResourceType {
    pb::ResourceType {
        id: rt.id.as_str().to_owned(),
        display_name: rt.display_name.clone(),
        traits: rt.traits.iter().map(|t| trait_value(*t) as i32).collect(),
        annotations: Vec::new(),
        description: rt.description.clone().unwrap_or_default(),
    }
}

/// Baton's resource type as the SDK's. Trait values the SDK does not model are dropped.
pub(crate) fn resource_type_from(rt: &pb::ResourceType) -> ResourceType {
    let mut out = ResourceType::new(
        rt.id.as_str(),
        rt.display_name.clone(),
        rt.traits.iter().filter_map(|t| trait_from(*t)),
    );
    if !rt.description.is_empty() {
        out = out.with_description(rt.description.clone());
    }
    out
}

pub(crate) fn id(id: &ResourceId) -> pb::ResourceId {
    pb::ResourceId {
        resource_type: id.resource_type.as_str().to_owned(),
        resource: id.id.clone(),
    }
}

fn id_from(id: &pb::ResourceId) -> ResourceId {
    ResourceId::new(id.resource_type.as_str(), id.resource.clone())
}

/// JSON as a protobuf `Value`. Numbers become doubles, as in Go's `structpb`.
fn json_value(value: &Json) -> Value {
    let kind = match value {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(json_value).collect(),
        }),
        Json::Object(map) => Kind::StructValue(json_struct(map)),
    };
    Value { kind: Some(kind) }
}

pub(crate) fn json_struct(map: &Map<String, Json>) -> Struct {
    Struct {
        fields: map
            .iter()
            .map(|(k, v)| (k.clone(), json_value(v)))
            .collect(),
    }
}

/// A protobuf `Value` as JSON. A whole number that a double holds exactly comes back as an
/// integer (Go's `structpb` stores every number as a double).
fn value_json(value: &Value) -> Json {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::NumberValue(f)) => {
            const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
            if f.fract() == 0.0 && f.abs() <= EXACT {
                Json::Number(Number::from(*f as i64))
            } else {
                Number::from_f64(*f).map_or(Json::Null, Json::Number)
            }
        }
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::ListValue(list)) => Json::Array(list.values.iter().map(value_json).collect()),
        Some(Kind::StructValue(s)) => Json::Object(struct_json(s)),
    }
}

pub(crate) fn struct_json(s: &Struct) -> Map<String, Json> {
    s.fields
        .iter()
        .map(|(k, v)| (k.clone(), value_json(v)))
        .collect()
}

fn status(status: Option<ResourceStatus>) -> Option<pb::Status> {
    let value = match status? {
        ResourceStatus::Enabled => pb::StatusValue::Enabled,
        ResourceStatus::Disabled => pb::StatusValue::Disabled,
        ResourceStatus::Deleted => pb::StatusValue::Deleted,
        _ => pb::StatusValue::Unspecified,
    };
    Some(pb::Status {
        status: value as i32,
        details: String::new(),
    })
}

fn status_from(status: Option<&pb::Status>) -> Option<ResourceStatus> {
    match pb::StatusValue::try_from(status?.status).ok()? {
        pb::StatusValue::Enabled => Some(ResourceStatus::Enabled),
        pb::StatusValue::Disabled => Some(ResourceStatus::Disabled),
        pb::StatusValue::Deleted => Some(ResourceStatus::Deleted),
        pb::StatusValue::Unspecified => None,
    }
}

fn account_type(a: AccountType) -> pb::AccountType {
    match a {
        AccountType::Human => pb::AccountType::Human,
        AccountType::Service => pb::AccountType::Service,
        AccountType::System => pb::AccountType::System,
        _ => pb::AccountType::Unspecified,
    }
}

fn account_type_from(value: i32) -> AccountType {
    match pb::AccountType::try_from(value) {
        Ok(pb::AccountType::Service) => AccountType::Service,
        Ok(pb::AccountType::System) => AccountType::System,
        _ => AccountType::Human,
    }
}

/// SDK annotations as `Any`s; `ExternalId` is not an annotation upstream (it is
/// `Resource.external_id`) and is left to the caller.
fn annotations(list: &[Annotation], immutable: &str) -> Vec<Any> {
    list.iter()
        .filter_map(|a| {
            Some(match a {
                Annotation::ChildResourceType { resource_type } => pb::any(
                    names::CHILD_RESOURCE_TYPE,
                    &pb::ChildResourceType {
                        resource_type_id: resource_type.as_str().to_owned(),
                    },
                ),
                Annotation::SkipEntitlements => pb::any(names::SKIP_ENTITLEMENTS, &pb::Empty {}),
                Annotation::SkipGrants => pb::any(names::SKIP_GRANTS, &pb::Empty {}),
                Annotation::ExternalLink { url } => {
                    pb::any(names::EXTERNAL_LINK, &pb::ExternalLink { url: url.clone() })
                }
                Annotation::Immutable => pb::any(immutable, &pb::Empty {}),
                _ => return None,
            })
        })
        .collect()
}

/// `Any`s as SDK annotations; traits and messages the SDK does not model are skipped.
fn annotations_from(list: &[Any]) -> Vec<Annotation> {
    list.iter()
        .filter_map(|any| match pb::any_name(any) {
            names::CHILD_RESOURCE_TYPE => pb::ChildResourceType::decode(any.value.as_slice())
                .ok()
                .map(|c| Annotation::ChildResourceType {
                    resource_type: ResourceTypeId::new(c.resource_type_id),
                }),
            names::SKIP_ENTITLEMENTS => Some(Annotation::SkipEntitlements),
            names::SKIP_GRANTS => Some(Annotation::SkipGrants),
            names::EXTERNAL_LINK => pb::ExternalLink::decode(any.value.as_slice())
                .ok()
                .map(|l| Annotation::ExternalLink { url: l.url }),
            names::ENTITLEMENT_IMMUTABLE | names::GRANT_IMMUTABLE => Some(Annotation::Immutable),
            _ => None,
        })
        .collect()
}

/// A resource as baton's message. `traits` are its type's: a user resource carries a
/// `UserTrait`, a group or role type a `GroupTrait` / `RoleTrait`; status and profile go both
/// into the trait (what older readers see) and into the resource's own fields.
pub(crate) fn resource(r: &Resource, traits: &[ResourceTrait]) -> pb::Resource {
    let profile = (!r.profile.is_empty()).then(|| json_struct(&r.profile));
    let mut anys = Vec::new();
    if let Some(user) = &r.user {
        let trait_ = pb::UserTrait {
            emails: user
                .emails
                .iter()
                .map(|e| pb::Email {
                    address: e.address.clone(),
                    is_primary: e.primary,
                })
                .collect(),
            status: status(r.status),
            profile: profile.clone(),
            account_type: account_type(user.account_type) as i32,
            login: user.login.clone().unwrap_or_default(),
            created_at: None,
            employee_ids: user.employee_id.iter().cloned().collect(),
        };
        anys.push(pb::any(names::USER_TRAIT, &trait_));
    }
    if traits.contains(&ResourceTrait::Group) {
        let group = pb::GroupTrait {
            profile: profile.clone(),
        };
        anys.push(pb::any(names::GROUP_TRAIT, &group));
    }
    if traits.contains(&ResourceTrait::Role) {
        let role = pb::RoleTrait {
            profile: profile.clone(),
        };
        anys.push(pb::any(names::ROLE_TRAIT, &role));
    }
    anys.extend(annotations(&r.annotations, names::ENTITLEMENT_IMMUTABLE));
    let external_id = r.annotations.iter().find_map(|a| match a {
        Annotation::ExternalId { id } => Some(pb::ExternalId { id: id.clone() }),
        _ => None,
    });
    pb::Resource {
        id: Some(id(&r.id)),
        parent_resource_id: r.parent.as_ref().map(id),
        display_name: r.display_name.clone(),
        annotations: anys,
        description: r.description.clone().unwrap_or_default(),
        external_id,
        creation_source: 1,
        profile,
        status: status(r.status),
    }
}

/// Baton's resource as the SDK's: the user trait from its `UserTrait`, status and profile from
/// the resource's own fields or, in files from older writers, from its trait.
pub(crate) fn resource_from(r: &pb::Resource) -> Option<Resource> {
    let rid = id_from(r.id.as_ref()?);
    let mut out = Resource::new(rid, r.display_name.clone());
    out.parent = r.parent_resource_id.as_ref().map(id_from);
    if !r.description.is_empty() {
        out.description = Some(r.description.clone());
    }
    let mut trait_status = None;
    let mut trait_profile = None;
    for any in &r.annotations {
        match pb::any_name(any) {
            names::USER_TRAIT => {
                let user = pb::UserTrait::decode(any.value.as_slice()).ok()?;
                let mut trait_ =
                    UserTrait::new().with_account_type(account_type_from(user.account_type));
                if !user.login.is_empty() {
                    trait_ = trait_.with_login(user.login.clone());
                }
                for email in &user.emails {
                    trait_ = trait_.with_email(email.address.clone(), email.is_primary);
                }
                if let Some(first) = user.employee_ids.first() {
                    trait_ = trait_.with_employee_id(first.clone());
                }
                out.user = Some(trait_);
                trait_status = status_from(user.status.as_ref());
                trait_profile = user.profile;
            }
            names::GROUP_TRAIT => {
                trait_profile = trait_profile.or(pb::GroupTrait::decode(any.value.as_slice())
                    .ok()
                    .and_then(|g| g.profile));
            }
            names::ROLE_TRAIT => {
                trait_profile = trait_profile.or(pb::RoleTrait::decode(any.value.as_slice())
                    .ok()
                    .and_then(|g| g.profile));
            }
            _ => {}
        }
    }
    out.status = status_from(r.status.as_ref()).or(trait_status);
    if let Some(profile) = r.profile.as_ref().or(trait_profile.as_ref()) {
        out.profile = struct_json(profile);
    }
    out.annotations = annotations_from(&r.annotations);
    if let Some(external) = &r.external_id {
        out.annotations.push(Annotation::ExternalId {
            id: external.id.clone(),
        });
    }
    Some(out)
}

/// An entitlement as baton's message, with the full copy of its resource and the full resource
/// types it is grantable to.
pub(crate) fn entitlement(
    e: &Entitlement,
    resource: pb::Resource,
    grantable_to: Vec<pb::ResourceType>,
) -> pb::Entitlement {
    pb::Entitlement {
        resource: Some(resource),
        id: entitlement_key(&e.id),
        display_name: e.display_name.clone(),
        description: e.description.clone().unwrap_or_default(),
        grantable_to,
        annotations: annotations(&e.annotations, names::ENTITLEMENT_IMMUTABLE),
        purpose: match e.purpose {
            Purpose::Assignment => pb::Purpose::Assignment,
            Purpose::Permission => pb::Purpose::Permission,
            _ => pb::Purpose::Unspecified,
        } as i32,
        slug: e.id.slug.clone(),
    }
}

/// The slug of an entitlement: its own field, or what its id holds after `<type>:<id>:`.
fn slug_of(e: &pb::Entitlement, resource: &ResourceId) -> String {
    if !e.slug.is_empty() {
        return e.slug.clone();
    }
    e.id.strip_prefix(&format!("{}:", resource_key(resource)))
        .unwrap_or(&e.id)
        .to_owned()
}

/// Baton's entitlement as the SDK's.
pub(crate) fn entitlement_from(e: &pb::Entitlement) -> Option<Entitlement> {
    let resource = id_from(e.resource.as_ref()?.id.as_ref()?);
    let slug = slug_of(e, &resource);
    let purpose = match pb::Purpose::try_from(e.purpose) {
        Ok(pb::Purpose::Permission) => Purpose::Permission,
        _ => Purpose::Assignment,
    };
    let mut out = Entitlement::new(
        resource,
        slug,
        e.display_name.clone(),
        purpose,
        e.grantable_to
            .iter()
            .map(|t| ResourceTypeId::new(t.id.clone())),
    );
    if !e.description.is_empty() {
        out = out.with_description(e.description.clone());
    }
    out.annotations = annotations_from(&e.annotations);
    Some(out)
}

/// The entitlement a grant embeds: `{resource, id}`, the resource in full.
pub(crate) fn grant_entitlement(
    entitlement: &EntitlementId,
    entitlement_resource: pb::Resource,
) -> pb::Entitlement {
    pb::Entitlement {
        resource: Some(entitlement_resource),
        id: entitlement_key(entitlement),
        ..pb::Entitlement::default()
    }
}

/// A grant as baton's message: the entitlement as `{resource, id}` (the resource in full), the
/// principal as `{id}`.
pub(crate) fn grant(g: &Grant, entitlement_resource: pb::Resource) -> pb::Grant {
    pb::Grant {
        entitlement: Some(grant_entitlement(&g.entitlement, entitlement_resource)),
        principal: Some(pb::Resource {
            id: Some(id(&g.principal)),
            ..pb::Resource::default()
        }),
        id: grant_key(g),
        annotations: annotations(&g.annotations, names::GRANT_IMMUTABLE),
    }
}

/// Encodes `g` into `out` with its entitlement already encoded (`entitlement`, the bytes of
/// [`grant_entitlement`]): the same bytes prost writes for the whole message, field by field in
/// tag order, without rebuilding the entitlement for every grant.
pub(crate) fn encode_grant(g: &Grant, entitlement: &[u8], out: &mut Vec<u8>) {
    use prost::encoding::{WireType, encode_key, encode_varint, message, string};
    encode_key(1, WireType::LengthDelimited, out);
    encode_varint(entitlement.len() as u64, out);
    out.extend_from_slice(entitlement);
    let principal = pb::Resource {
        id: Some(id(&g.principal)),
        ..pb::Resource::default()
    };
    message::encode(2, &principal, out);
    string::encode(3, &grant_key(g), out);
    for annotation in annotations(&g.annotations, names::GRANT_IMMUTABLE) {
        message::encode(4, &annotation, out);
    }
}

/// Baton's grant as the SDK's.
pub(crate) fn grant_from(g: &pb::Grant) -> Option<Grant> {
    let e = g.entitlement.as_ref()?;
    let resource = id_from(e.resource.as_ref()?.id.as_ref()?);
    let slug = slug_of(e, &resource);
    let principal = id_from(g.principal.as_ref()?.id.as_ref()?);
    let mut out = Grant::new(EntitlementId::new(resource, slug), principal);
    out.annotations = annotations_from(&g.annotations);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_with_integers_kept() {
        let json: Map<String, Json> = serde_json::from_str(
            r#"{"id": 42, "active": true, "name": "A", "ratio": 0.5, "tags": ["x", null],
                "nested": {"n": -3}}"#,
        )
        .unwrap();
        let s = json_struct(&json);
        assert_eq!(struct_json(&s), json);
        // Go's structpb writes integers as doubles: 1 is 11 00..00 F0 3F inside the Value.
        let one = json_value(&Json::from(1));
        assert_eq!(one.encode_to_vec(), [0x11, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F]);
    }

    #[test]
    fn a_grant_encoded_in_parts_is_the_whole_message() {
        let mut grant = Grant::new(
            EntitlementId::new(ResourceId::new("group", "7"), "member"),
            ResourceId::new("user", "42"),
        )
        .with_annotation(Annotation::Immutable);
        grant.annotations.push(Annotation::SkipGrants);
        let group = resource(
            &Resource::new(ResourceId::new("group", "7"), "Seven"),
            &[ResourceTrait::Group],
        );
        let whole = grant_fn(&grant, group.clone()).encode_to_vec();
        let entitlement = grant_entitlement(&grant.entitlement, group).encode_to_vec();
        let mut parts = Vec::new();
        encode_grant(&grant, &entitlement, &mut parts);
        assert_eq!(parts, whole);
    }

    fn grant_fn(g: &Grant, r: pb::Resource) -> pb::Grant {
        super::grant(g, r)
    }

    #[test]
    fn ids_are_joined_from_parts() {
        let grant = Grant::new(
            EntitlementId::new(ResourceId::new("license", "treasury-user"), "assigned"),
            ResourceId::new("user", "42"),
        );
        assert_eq!(grant_key(&grant), "license:treasury-user:assigned:user:42");
        assert_eq!(resource_key(&grant.principal), "user:42");
    }
}
