//! The syncers: one users pass that carries every grant, the group-like listings, licenses.

mod groups;
mod licenses;
mod users;

pub(crate) use groups::GroupLike;
pub(crate) use licenses::Licenses;
pub(crate) use users::{Users, user_fields, user_resource};

use connector_sdk::{Entitlement, Purpose, ResourceId, ResourceTypeId};

use crate::ids;

/// The `member` entitlement of a group-like resource, grantable to users.
pub(crate) fn member_entitlement(resource: ResourceId, what: &str) -> Entitlement {
    Entitlement::new(
        resource,
        ids::MEMBER,
        format!("{what} member"),
        Purpose::Assignment,
        [ResourceTypeId::new(ids::USER)],
    )
}

/// The `approver` entitlement of a user group named `name`, grantable to users.
pub(crate) fn approver_entitlement(resource: ResourceId, name: &str) -> Entitlement {
    Entitlement::new(
        resource,
        ids::APPROVER,
        format!("Approver of {name}"),
        Purpose::Permission,
        [ResourceTypeId::new(ids::USER)],
    )
}

/// Takes a first page another syncer fetched to make a decision (`None` once taken).
pub(crate) fn take_first_page<T>(slot: &std::sync::Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(|p| p.into_inner()).take()
}
