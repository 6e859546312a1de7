//! Resource types, ids and entitlement slugs of the Coupa connector.
//!
//! | resource type | id | entitlement |
//! |---|---|---|
//! | `user` | Coupa user id | - |
//! | `group` | user group id | `member`, `approver` |
//! | `role` | role id | `member` |
//! | `license` | the license flag's dash key, such as `expense-user` | `assigned` |
//! | `account_group` | account group id | `member` |
//! | `content_group` | business (content) group id | `member` |
//!
//! So user 42's membership of user group 7 is the grant `group:7:member:user:42`, its being an
//! approver of that group (`approval-groups`) `group:7:approver:user:42`, and its Expense
//! license `license:expense-user:assigned:user:42`.

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
/// The entitlement slug of a user group's approvers.
pub const APPROVER: &str = "approver";
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

/// The `approver` entitlement of user group `id`.
pub fn approver_of(id: i64) -> EntitlementId {
    EntitlementId::new(ResourceId::new(GROUP, id.to_string()), APPROVER)
}

/// The `assigned` entitlement of a license.
pub fn license(license: &License) -> EntitlementId {
    EntitlementId::new(ResourceId::new(LICENSE, license.key()), ASSIGNED)
}

/// The Coupa id `text` spells, when it is a positive integer written canonically: digits only,
/// no sign, no leading zero. So `+7` and `007` are refused rather than taken as 7, and the id a
/// caller names is the id written.
pub fn canonical_id(text: &str) -> Option<i64> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    canonical.then(|| text.parse::<i64>().ok()).flatten()
}
#[cfg(test)]
mod tests {
    use super::canonical_id;

    #[test]
    fn ids_are_canonical_positive_integers() {
        assert_eq!(canonical_id("7"), Some(7));
        assert_eq!(canonical_id("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "",
            "0",
            "007",
            "+7",
            "-7",
            " 7",
            "7 ",
            "7a",
            "9223372036854775808",
            "٣",
        ] {
            assert_eq!(canonical_id(bad), None, "{bad:?}");
        }
    }
}
