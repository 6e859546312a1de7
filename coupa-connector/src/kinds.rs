//! The group-like resource types, described once: resource type, display name, the user's access
//! list, and the listing call.

use connector_sdk::{ConnectorError, ResourceTrait};
use coupa_client::{AccessList, CoupaClient, Fields, ListQuery};
use coupa_client::{AccountGroup, ContentGroup, Record, Role, UserGroup};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;

use crate::errors::to_connector;
use crate::ids;
use crate::paging::PAGE_SIZE;

/// One row of a group-like listing, whatever its record type.
pub(crate) struct Row {
    pub(crate) id: i64,
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
    /// A user group's `can-approve`, when the answer carried it.
    pub(crate) can_approve: Option<bool>,
}

impl From<UserGroup> for Row {
    fn from(g: UserGroup) -> Self {
        Self {
            id: g.id,
            name: g.name,
            description: g.description,
            can_approve: g.can_approve,
        }
    }
}

impl From<Role> for Row {
    fn from(r: Role) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            can_approve: None,
        }
    }
}

impl From<AccountGroup> for Row {
    fn from(a: AccountGroup) -> Self {
        Self {
            id: a.id,
            name: a.name,
            description: None,
            can_approve: None,
        }
    }
}

impl From<ContentGroup> for Row {
    fn from(c: ContentGroup) -> Self {
        Self {
            id: c.id,
            name: c.name,
            description: c.description,
            can_approve: None,
        }
    }
}

/// Records as rows.
pub(crate) fn rows<T: Into<Row>>(records: Vec<T>) -> Vec<Row> {
    records.into_iter().map(Into::into).collect()
}

/// The page of a listing at `offset`.
type Fetch = fn(CoupaClient, u64) -> BoxFuture<'static, Result<Vec<Row>, ConnectorError>>;

/// What describes one group-like resource type.
pub(crate) struct Spec {
    /// The resource type id.
    pub(crate) type_id: &'static str,
    /// The display name of the type, and of a row without a name.
    pub(crate) display: &'static str,
    /// The SDK trait of the type.
    pub(crate) resource_trait: ResourceTrait,
    /// The user's access list that holds memberships.
    pub(crate) list: AccessList,
    /// One page of the listing.
    pub(crate) fetch: Fetch,
}

/// Which group-like resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Group,
    Role,
    AccountGroup,
    ContentGroup,
}

fn named() -> Fields {
    Fields::of(["id", "name", "description"])
}

/// The projection of the user-groups listing: named, and whether the group can approve.
pub(crate) fn user_group_fields() -> Fields {
    Fields::of(["id", "name", "description", "can-approve"])
}

/// The projection of the roles listing.
pub(crate) fn role_fields() -> Fields {
    named()
}

/// The projection of the account-groups listing.
pub(crate) fn account_group_fields() -> Fields {
    Fields::of(["id", "name", "account-group-type"])
}

/// One projected page of a listing.
pub(crate) fn page<T>(
    query: ListQuery<T>,
    fields: Fields,
    offset: u64,
) -> BoxFuture<'static, Result<Vec<Row>, ConnectorError>>
where
    T: DeserializeOwned + Record + Send + Into<Row> + 'static,
{
    Box::pin(async move {
        let records = query
            .fields(fields)
            .limit(PAGE_SIZE)
            .offset(offset)
            .page()
            .await
            .map_err(to_connector)?;
        Ok(rows(records))
    })
}

const SPECS: [Spec; 4] = [
    Spec {
        type_id: ids::GROUP,
        display: "User group",
        resource_trait: ResourceTrait::Group,
        list: AccessList::UserGroups,
        fetch: |client, offset| page(client.user_groups(), user_group_fields(), offset),
    },
    Spec {
        type_id: ids::ROLE,
        display: "Role",
        resource_trait: ResourceTrait::Role,
        list: AccessList::Roles,
        fetch: |client, offset| page(client.roles(), role_fields(), offset),
    },
    Spec {
        type_id: ids::ACCOUNT_GROUP,
        display: "Account group",
        resource_trait: ResourceTrait::Group,
        list: AccessList::AccountGroups,
        fetch: |client, offset| page(client.account_groups(), account_group_fields(), offset),
    },
    Spec {
        type_id: ids::CONTENT_GROUP,
        display: "Content group",
        resource_trait: ResourceTrait::Group,
        list: AccessList::ContentGroups,
        fetch: |client, offset| page(client.content_groups(), named(), offset),
    },
];

impl Kind {
    /// Every group-like kind.
    pub(crate) const ALL: [Kind; 4] = [
        Self::Group,
        Self::Role,
        Self::AccountGroup,
        Self::ContentGroup,
    ];

    /// This kind's description.
    pub(crate) fn spec(self) -> &'static Spec {
        &SPECS[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_kind_order() {
        let types: Vec<_> = Kind::ALL.iter().map(|k| k.spec().type_id).collect();
        assert_eq!(
            types,
            [
                ids::GROUP,
                ids::ROLE,
                ids::ACCOUNT_GROUP,
                ids::CONTENT_GROUP
            ]
        );
        let lists: Vec<_> = Kind::ALL.iter().map(|k| k.spec().list).collect();
        assert_eq!(
            lists,
            [
                AccessList::UserGroups,
                AccessList::Roles,
                AccessList::AccountGroups,
                AccessList::ContentGroups
            ]
        );
    }
}
