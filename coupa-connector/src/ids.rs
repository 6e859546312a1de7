//! Resource types, ids and entitlement slugs of the Coupa connector.
//!
//! | resource type | id | entitlement |
//! |---|---|---|
//! | `user` | Coupa user id | - |
//! | `group` | user group id | `member` |
//! | `role` | role id | `member` |
//! | `license` | the license flag's dash key, such as `expense-user` | `assigned` |
//! | `account_group` | account group id | `member` |
//! | `content_group` | business (content) group id | `member` |
//!
//! So user 42's membership of user group 7 is the grant `group:7:member:user:42`, and its
//! Expense license is `license:expense-user:assigned:user:42`.

use connector_sdk::{EntitlementId, ResourceId};
use coupa_client::License;

/// `user`
pub const USER: &str = "user";
/// `group` (Coupa user groups)
pub const GROUP: &str = "group";
/// `role`
pub const ROLE: &str = "role";
/// `license`
pub const LICENSE: &str = "license";
/// `account_group`
pub const ACCOUNT_GROUP: &str = "account_group";
/// `content_group`
pub const CONTENT_GROUP: &str = "content_group";

/// The entitlement slug of groups, roles, account groups and content groups.
pub const MEMBER: &str = "member";
/// The entitlement slug of licenses.
pub const ASSIGNED: &str = "assigned";

/// The resource id of Coupa user `id`.
pub fn user(id: i64) -> ResourceId {
    ResourceId::new(USER, id.to_string())
}

/// The `member` entitlement of object `id` of a group-like resource type.
pub fn member_of(resource_type: &str, id: i64) -> EntitlementId {
    EntitlementId::new(ResourceId::new(resource_type, id.to_string()), MEMBER)
}

/// The `assigned` entitlement of a license.
pub fn license(license: &License) -> EntitlementId {
    EntitlementId::new(ResourceId::new(LICENSE, license.key()), ASSIGNED)
}
