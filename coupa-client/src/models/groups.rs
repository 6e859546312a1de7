//! User groups, roles, account groups and content groups.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::common::{Record, Reference};

macro_rules! record {
    ($ty:ident) => {
        impl Record for $ty {
            fn id(&self) -> i64 {
                self.id
            }
        }
    };
}

/// A user group (`/api/user_groups`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct UserGroup {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether the group is active.
    #[serde(default)]
    pub active: Option<bool>,
    /// Blank for a group, `Project` for a project.
    #[serde(default, rename = "type")]
    pub group_type: Option<String>,
    /// Whether the group's approvers can approve (`can-approve`).
    #[serde(default)]
    pub can_approve: Option<bool>,
    /// Members, when projected; `None` when the answer did not carry the key or carried `null`
    /// (unknown is not empty).
    #[serde(default)]
    pub users: Option<Vec<Reference>>,
    /// Other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
record!(UserGroup);

/// A role (`/api/roles`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct Role {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
record!(Role);

/// An account group (`/api/account_groups`; needs `core.accounting.read`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct AccountGroup {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// 1 or 2.
    #[serde(default)]
    pub account_group_type: Option<i64>,
    /// Other keys (account type, segment filters).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
record!(AccountGroup);

/// A content group, called a business group in the API (`/api/business_groups`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct ContentGroup {
    /// Id.
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Other keys.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
record!(ContentGroup);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_group_says_whether_it_can_approve() {
        let group: UserGroup =
            serde_json::from_str(r#"{"id":11,"name":"Finance","can-approve":true}"#).unwrap();
        assert_eq!((group.id, group.can_approve), (11, Some(true)));
        let unsaid: UserGroup = serde_json::from_str(r#"{"id":12}"#).unwrap();
        assert_eq!(unsaid.can_approve, None);
    }
}
