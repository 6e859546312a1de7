//! How the SQL stores spell a model's values in their columns: one place for both.

use super::IntegrityKind;
use crate::model::{
    Entitlement, EntitlementId, GrantId, Purpose, Resource, ResourceId, ResourceStatus,
};

/// `enabled`, `disabled` or `deleted`.
pub(crate) fn status(status: ResourceStatus) -> &'static str {
    match status {
        ResourceStatus::Enabled => "enabled",
        ResourceStatus::Disabled => "disabled",
        ResourceStatus::Deleted => "deleted",
    }
}

/// `assignment` or `permission`.
pub(crate) fn purpose(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Assignment => "assignment",
        Purpose::Permission => "permission",
    }
}

/// A user's primary email (else its first), for the `email` column.
pub(crate) fn email(resource: &Resource) -> Option<&str> {
    let user = resource.user.as_ref()?;
    user.emails
        .iter()
        .find(|e| e.primary)
        .or(user.emails.first())
        .map(|e| e.address.as_str())
}

/// `,user,group,`: the resource types an entitlement is grantable to, between commas, so a
/// type is found with one substring test.
pub(crate) fn grantable_to(entitlement: &Entitlement) -> String {
    let mut text = String::from(",");
    for t in &entitlement.grantable_to {
        text.push_str(&t.to_string());
        text.push(',');
    }
    text
}

/// A resource id from its key columns (type, id).
pub(crate) fn resource_key(v: Vec<String>) -> ResourceId {
    ResourceId::new(v[0].as_str(), v[1].clone())
}

/// An entitlement id from its key columns (type, id, slug).
pub(crate) fn entitlement_key(v: Vec<String>) -> EntitlementId {
    EntitlementId::new(ResourceId::new(v[0].as_str(), v[1].clone()), v[2].clone())
}

/// A grant id from its key columns (entitlement type, id, slug, principal type, id).
pub(crate) fn grant_key(v: Vec<String>) -> GrantId {
    GrantId {
        entitlement: EntitlementId::new(ResourceId::new(v[0].as_str(), v[1].clone()), v[2].clone()),
        principal: ResourceId::new(v[3].as_str(), v[4].clone()),
    }
}

/// The kind an integrity query reports as a number: 0 not grantable, 1 missing entitlement,
/// otherwise missing principal.
pub(crate) fn integrity_kind(code: i64) -> IntegrityKind {
    match code {
        0 => IntegrityKind::NotGrantable,
        1 => IntegrityKind::MissingEntitlement,
        _ => IntegrityKind::MissingPrincipal,
    }
}
