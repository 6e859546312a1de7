//! The protobuf messages of baton's `c1.connector.v2` package that a `.c1z` file stores, written
//! as prost structs from the published field numbers. Only the fields this crate reads or writes
//! are declared; prost skips the others when decoding.

use prost_types::{Any, Struct, Timestamp};

/// `c1.connector.v2.ResourceType`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResourceType {
    /// 1
    #[prost(string, tag = "1")]
    pub(crate) id: String,
    /// 2
    #[prost(string, tag = "2")]
    pub(crate) display_name: String,
    /// 3, packed `Trait` values
    #[prost(enumeration = "Trait", repeated, tag = "3")]
    pub(crate) traits: Vec<i32>,
    /// 4
    #[prost(message, repeated, tag = "4")]
    pub(crate) annotations: Vec<Any>,
    /// 5
    #[prost(string, tag = "5")]
    pub(crate) description: String,
}

/// `c1.connector.v2.ResourceType.Trait`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum Trait {
    /// 0
    Unspecified = 0,
    /// 1
    User = 1,
    /// 2
    Group = 2,
    /// 3
    Role = 3,
    /// 4
    App = 4,
    /// 10
    LicenseProfile = 10,
}

/// `c1.connector.v2.ResourceId`
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub(crate) struct ResourceId {
    /// 1
    #[prost(string, tag = "1")]
    pub(crate) resource_type: String,
    /// 2
    #[prost(string, tag = "2")]
    pub(crate) resource: String,
}

/// `c1.connector.v2.ExternalId`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExternalId {
    /// 1
    #[prost(string, tag = "1")]
    pub(crate) id: String,
}

/// `c1.connector.v2.Resource`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Resource {
    /// 1
    #[prost(message, optional, tag = "1")]
    pub(crate) id: Option<ResourceId>,
    /// 2
    #[prost(message, optional, tag = "2")]
    pub(crate) parent_resource_id: Option<ResourceId>,
    /// 3
    #[prost(string, tag = "3")]
    pub(crate) display_name: String,
    /// 4
    #[prost(message, repeated, tag = "4")]
    pub(crate) annotations: Vec<Any>,
    /// 5
    #[prost(string, tag = "5")]
    pub(crate) description: String,
    /// 7 (deprecated upstream, still read)
    #[prost(message, optional, tag = "7")]
    pub(crate) external_id: Option<ExternalId>,
    /// 8: 1 = LIST_RESOURCES, as upstream's syncer sets it
    #[prost(int32, tag = "8")]
    pub(crate) creation_source: i32,
    /// 9
    #[prost(message, optional, tag = "9")]
    pub(crate) profile: Option<Struct>,
    /// 11
    #[prost(message, optional, tag = "11")]
    pub(crate) status: Option<Status>,
}

/// `c1.connector.v2.Resource.Status` (also `UserTrait.Status`)
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Status {
    /// 1
    #[prost(enumeration = "StatusValue", tag = "1")]
    pub(crate) status: i32,
    /// 2
    #[prost(string, tag = "2")]
    pub(crate) details: String,
}

/// The status enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum StatusValue {
    /// 0
    Unspecified = 0,
    /// 1
    Enabled = 1,
    /// 2
    Disabled = 2,
    /// 3
    Deleted = 3,
}

/// `c1.connector.v2.Entitlement`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Entitlement {
    /// 1, a full copy of the offering resource
    #[prost(message, optional, tag = "1")]
    pub(crate) resource: Option<Resource>,
    /// 2
    #[prost(string, tag = "2")]
    pub(crate) id: String,
    /// 3
    #[prost(string, tag = "3")]
    pub(crate) display_name: String,
    /// 4
    #[prost(string, tag = "4")]
    pub(crate) description: String,
    /// 5, full resource types
    #[prost(message, repeated, tag = "5")]
    pub(crate) grantable_to: Vec<ResourceType>,
    /// 6
    #[prost(message, repeated, tag = "6")]
    pub(crate) annotations: Vec<Any>,
    /// 7
    #[prost(enumeration = "Purpose", tag = "7")]
    pub(crate) purpose: i32,
    /// 8
    #[prost(string, tag = "8")]
    pub(crate) slug: String,
}

/// `c1.connector.v2.Entitlement.PurposeValue`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum Purpose {
    /// 0
    Unspecified = 0,
    /// 1
    Assignment = 1,
    /// 2
    Permission = 2,
}

/// `c1.connector.v2.Grant`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Grant {
    /// 1: `{resource, id}` of the entitlement
    #[prost(message, optional, tag = "1")]
    pub(crate) entitlement: Option<Entitlement>,
    /// 2: `{id}` of the principal
    #[prost(message, optional, tag = "2")]
    pub(crate) principal: Option<Resource>,
    /// 3
    #[prost(string, tag = "3")]
    pub(crate) id: String,
    /// 4
    #[prost(message, repeated, tag = "4")]
    pub(crate) annotations: Vec<Any>,
}

/// `c1.connector.v2.UserTrait`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UserTrait {
    /// 1
    #[prost(message, repeated, tag = "1")]
    pub(crate) emails: Vec<Email>,
    /// 2
    #[prost(message, optional, tag = "2")]
    pub(crate) status: Option<Status>,
    /// 3
    #[prost(message, optional, tag = "3")]
    pub(crate) profile: Option<Struct>,
    /// 5
    #[prost(enumeration = "AccountType", tag = "5")]
    pub(crate) account_type: i32,
    /// 6
    #[prost(string, tag = "6")]
    pub(crate) login: String,
    /// 8
    #[prost(message, optional, tag = "8")]
    pub(crate) created_at: Option<Timestamp>,
    /// 13
    #[prost(string, repeated, tag = "13")]
    pub(crate) employee_ids: Vec<String>,
}

/// `c1.connector.v2.UserTrait.Email`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Email {
    /// 1
    #[prost(string, tag = "1")]
    pub(crate) address: String,
    /// 2
    #[prost(bool, tag = "2")]
    pub(crate) is_primary: bool,
}

/// `c1.connector.v2.UserTrait.AccountType`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum AccountType {
    /// 0
    Unspecified = 0,
    /// 1
    Human = 1,
    /// 2
    Service = 2,
    /// 3
    System = 3,
}

/// `c1.connector.v2.GroupTrait`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GroupTrait {
    /// 2
    #[prost(message, optional, tag = "2")]
    pub(crate) profile: Option<Struct>,
}

/// `c1.connector.v2.RoleTrait`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RoleTrait {
    /// 1
    #[prost(message, optional, tag = "1")]
    pub(crate) profile: Option<Struct>,
}

/// `c1.connector.v2.ChildResourceType`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ChildResourceType {
    /// 1
    #[prost(string, tag = "1")]
    pub(crate) resource_type_id: String,
}

/// `c1.connector.v2.ExternalLink`
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExternalLink {
    /// 1
    #[prost(string, tag = "1")]
    pub(crate) url: String,
}

/// An annotation without fields (`SkipEntitlements`, `SkipGrants`, `EntitlementImmutable`, …).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Empty {}

/// The `type_url` prefix of every annotation.
pub(crate) const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// Full message names used in `type_url`s.
pub(crate) mod names {
    /// `UserTrait`
    pub(crate) const USER_TRAIT: &str = "c1.connector.v2.UserTrait";
    /// `GroupTrait`
    pub(crate) const GROUP_TRAIT: &str = "c1.connector.v2.GroupTrait";
    /// `RoleTrait`
    pub(crate) const ROLE_TRAIT: &str = "c1.connector.v2.RoleTrait";
    /// `ChildResourceType`
    pub(crate) const CHILD_RESOURCE_TYPE: &str = "c1.connector.v2.ChildResourceType";
    /// `SkipEntitlements`
    pub(crate) const SKIP_ENTITLEMENTS: &str = "c1.connector.v2.SkipEntitlements";
    /// `SkipGrants`
    pub(crate) const SKIP_GRANTS: &str = "c1.connector.v2.SkipGrants";
    /// `ExternalLink`
    pub(crate) const EXTERNAL_LINK: &str = "c1.connector.v2.ExternalLink";
    /// `EntitlementImmutable`
    pub(crate) const ENTITLEMENT_IMMUTABLE: &str = "c1.connector.v2.EntitlementImmutable";
    /// `GrantImmutable`
    pub(crate) const GRANT_IMMUTABLE: &str = "c1.connector.v2.GrantImmutable";
}

/// `message` packed in an `Any` named `name`.
pub(crate) fn any(name: &str, message: &impl prost::Message) -> Any {
    Any {
        type_url: format!("{TYPE_URL_PREFIX}{name}"),
        value: message.encode_to_vec(),
    }
}

/// The full message name of an `Any`.
pub(crate) fn any_name(any: &Any) -> &str {
    any.type_url
        .rsplit_once('/')
        .map_or(any.type_url.as_str(), |(_, name)| name)
}
