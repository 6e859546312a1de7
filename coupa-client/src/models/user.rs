//! The user record, and the bodies that create and update users.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::approval::{ApprovalLimit, ApprovalLimitKind};
use super::common::{IdRef, Record, Reference, string_or_number};
use super::license::License;

/// A Coupa user. Keys are hyphenated on the wire; a key the answer did not carry, or carried as
/// `null`, is `None` (an access list that is absent or `null` is `None`, never an empty list:
/// unknown is not empty). License flags
/// present in the answer are collected in `licenses`; every other key lands in `extra`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct User {
    /// Id.
    pub id: i64,
    /// Login (unique).
    pub login: Option<String>,
    /// Email (unique).
    pub email: Option<String>,
    /// First name.
    pub firstname: Option<String>,
    /// Last name.
    pub lastname: Option<String>,
    /// Middle name.
    pub middlename: Option<String>,
    /// Full name (output only).
    pub fullname: Option<String>,
    /// Employee number.
    pub employee_number: Option<String>,
    /// SSO identifier.
    pub sso_identifier: Option<String>,
    /// Whether the user is active.
    pub active: Option<bool>,
    /// Whether this is an API user (output only).
    pub api_user: Option<bool>,
    /// `coupa_credentials`, `ldap` or `saml`.
    pub authentication_method: Option<String>,
    /// Default locale.
    pub default_locale: Option<String>,
    /// Creation time (ISO 8601 with offset).
    pub created_at: Option<String>,
    /// Last update time (ISO 8601 with offset).
    pub updated_at: Option<String>,
    /// Roles (`None` when the answer did not carry the key or carried `null`).
    pub roles: Option<Vec<Reference>>,
    /// User groups (`None` when the answer did not carry the key or carried `null`).
    pub user_groups: Option<Vec<Reference>>,
    /// Account groups (`None` when the answer did not carry the key or carried `null`).
    pub account_groups: Option<Vec<Reference>>,
    /// Content groups (`content-groups`, formerly `business-groups`; `None` when absent or
    /// `null`). A record that carries both keys with different values does not decode.
    pub content_groups: Option<Vec<Reference>>,
    /// The user groups whose approver the user is (`approval-groups`; `None` when absent or
    /// `null`).
    pub approval_groups: Option<Vec<Reference>>,
    /// The approval limits the record carried, by kind: `None` for a limit carried as `null`
    /// (no limit); a limit the answer did not carry has no entry.
    pub approval_limits: BTreeMap<ApprovalLimitKind, Option<ApprovalLimit>>,
    /// License flags present in the record.
    pub licenses: BTreeMap<License, bool>,
    /// Every other key.
    pub extra: Map<String, Value>,
}

impl Record for User {
    fn id(&self) -> i64 {
        self.id
    }
}

impl User {
    /// Whether the user holds `license` (absent flags count as not held). A decision that must
    /// tell "not held" from "not in the answer" uses [`User::license`].
    pub fn has_license(&self, license: &License) -> bool {
        self.licenses.get(license).copied().unwrap_or(false)
    }

    /// The flag of `license`, or `None` when the answer did not carry it (Coupa leaves newer
    /// flags out unless they are named in `fields`).
    pub fn license(&self, license: &License) -> Option<bool> {
        self.licenses.get(license).copied()
    }

    /// One access list, or `None` when the answer did not carry its key or carried `null`.
    pub fn list(&self, list: AccessList) -> Option<&[Reference]> {
        match list {
            AccessList::Roles => self.roles.as_deref(),
            AccessList::UserGroups => self.user_groups.as_deref(),
            AccessList::AccountGroups => self.account_groups.as_deref(),
            AccessList::ContentGroups => self.content_groups.as_deref(),
            AccessList::ApprovalGroups => self.approval_groups.as_deref(),
        }
    }
}

/// The access lists of a user record, each written in full by `PUT /api/users/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AccessList {
    /// `roles`
    Roles,
    /// `user-groups`
    UserGroups,
    /// `account-groups` (reading them may need `core.accounting.read`)
    AccountGroups,
    /// `content-groups`
    ContentGroups,
    /// `approval-groups`: the user groups whose approver the user is
    ApprovalGroups,
}

impl AccessList {
    /// Every access list.
    pub const ALL: [AccessList; 5] = [
        Self::Roles,
        Self::UserGroups,
        Self::AccountGroups,
        Self::ContentGroups,
        Self::ApprovalGroups,
    ];

    /// The JSON key, as in a `fields` projection and an update body.
    pub fn key(self) -> &'static str {
        match self {
            Self::Roles => "roles",
            Self::UserGroups => "user-groups",
            Self::AccountGroups => "account-groups",
            Self::ContentGroups => "content-groups",
            Self::ApprovalGroups => "approval-groups",
        }
    }
}

/// Decodes the user record key by key (no intermediate buffering), collecting license flags and
/// unknown keys on the way.
struct UserVisitor;

/// An access list as the answer carried it: `null` is `None` (unknown), never the empty list.
type Refs = Option<Vec<Reference>>;

/// An employee number sent as text or as a number.
#[derive(Deserialize)]
#[serde(transparent)]
struct LenientString(#[serde(deserialize_with = "string_or_number")] Option<String>);

impl<'de> serde::de::Visitor<'de> for UserVisitor {
    type Value = User;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Coupa user object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<User, A::Error> {
        let mut id = None;
        // Both names of the content-group list, as carried (outer `None`: key absent).
        let mut content: Option<Refs> = None;
        let mut business: Option<Refs> = None;
        let mut user = User {
            id: 0,
            login: None,
            email: None,
            firstname: None,
            lastname: None,
            middlename: None,
            fullname: None,
            employee_number: None,
            sso_identifier: None,
            active: None,
            api_user: None,
            authentication_method: None,
            default_locale: None,
            created_at: None,
            updated_at: None,
            roles: None,
            user_groups: None,
            account_groups: None,
            content_groups: None,
            approval_groups: None,
            approval_limits: BTreeMap::new(),
            licenses: BTreeMap::new(),
            extra: Map::new(),
        };
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "id" => id = Some(map.next_value::<i64>()?),
                "login" => user.login = map.next_value()?,
                "email" => user.email = map.next_value()?,
                "firstname" => user.firstname = map.next_value()?,
                "lastname" => user.lastname = map.next_value()?,
                "middlename" => user.middlename = map.next_value()?,
                "fullname" => user.fullname = map.next_value()?,
                "employee-number" => {
                    user.employee_number = map.next_value::<LenientString>()?.0;
                }
                "sso-identifier" => user.sso_identifier = map.next_value()?,
                "active" => user.active = map.next_value()?,
                "api-user" => user.api_user = map.next_value()?,
                "authentication-method" => user.authentication_method = map.next_value()?,
                "default-locale" => user.default_locale = map.next_value()?,
                "created-at" => user.created_at = map.next_value()?,
                "updated-at" => user.updated_at = map.next_value()?,
                "roles" => user.roles = map.next_value::<Refs>()?,
                "user-groups" => user.user_groups = map.next_value::<Refs>()?,
                "account-groups" => user.account_groups = map.next_value::<Refs>()?,
                "content-groups" => content = Some(map.next_value::<Refs>()?),
                "business-groups" => business = Some(map.next_value::<Refs>()?),
                "approval-groups" => user.approval_groups = map.next_value::<Refs>()?,
                other if ApprovalLimitKind::from_key(other).is_some() => {
                    if let Some(kind) = ApprovalLimitKind::from_key(other) {
                        let limit: Option<ApprovalLimit> = map.next_value()?;
                        user.approval_limits.insert(kind, limit);
                    }
                }
                other => {
                    let value: Value = map.next_value()?;
                    match (License::from_key(other), &value) {
                        (Some(license), Value::Bool(held)) => {
                            user.licenses.insert(license, *held);
                        }
                        _ => {
                            user.extra.insert(other.to_owned(), value);
                        }
                    }
                }
            }
        }
        user.id = id.ok_or_else(|| serde::de::Error::missing_field("id"))?;
        user.content_groups = match (content, business) {
            (Some(content), Some(business)) if !same_ids(&content, &business) => {
                return Err(serde::de::Error::custom(
                    "`content-groups` and `business-groups` disagree: the record cannot say \
                     which content groups the user has",
                ));
            }
            (content, business) => content.or(business).flatten(),
        };
        Ok(user)
    }
}

/// Whether two carried lists name the same ids (order and names aside; two `null`s agree).
fn same_ids(a: &Refs, b: &Refs) -> bool {
    let ids = |refs: &Refs| {
        refs.as_ref().map(|list| {
            list.iter()
                .map(|r| r.id)
                .collect::<std::collections::BTreeSet<_>>()
        })
    };
    ids(a) == ids(b)
}

impl<'de> Deserialize<'de> for User {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UserVisitor)
    }
}

fn is_empty_map<K, V>(map: &BTreeMap<K, V>) -> bool {
    map.is_empty()
}

/// A partial update of a user (`PUT /api/users/{id}`): only the fields set are sent. Lists are
/// sent in full as `[{"id":N},…]` (an empty list is `[]`, never `null`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct UserUpdate {
    /// Enable or disable.
    pub active: Option<bool>,
    /// The role list.
    pub roles: Option<Vec<IdRef>>,
    /// The user-group list.
    pub user_groups: Option<Vec<IdRef>>,
    /// The account-group list.
    pub account_groups: Option<Vec<IdRef>>,
    /// The content-group list.
    pub content_groups: Option<Vec<IdRef>>,
    /// The approval-group list.
    pub approval_groups: Option<Vec<IdRef>>,
    /// License flags to set, written with dash keys.
    #[serde(flatten, skip_serializing_if = "is_empty_map")]
    pub licenses: BTreeMap<License, bool>,
    /// Any other keys, sent as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn ids(ids: impl IntoIterator<Item = i64>) -> Option<Vec<IdRef>> {
    Some(ids.into_iter().map(|id| IdRef { id }).collect())
}

impl UserUpdate {
    /// An empty update.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `active`.
    pub fn active(mut self, active: bool) -> Self {
        self.active = Some(active);
        self
    }

    /// Sets the role list.
    pub fn roles(mut self, roles: impl IntoIterator<Item = i64>) -> Self {
        self.roles = ids(roles);
        self
    }

    /// Sets the user-group list.
    pub fn user_groups(mut self, groups: impl IntoIterator<Item = i64>) -> Self {
        self.user_groups = ids(groups);
        self
    }

    /// Sets the account-group list.
    pub fn account_groups(mut self, groups: impl IntoIterator<Item = i64>) -> Self {
        self.account_groups = ids(groups);
        self
    }

    /// Sets the content-group list.
    pub fn content_groups(mut self, groups: impl IntoIterator<Item = i64>) -> Self {
        self.content_groups = ids(groups);
        self
    }

    /// Sets the approval-group list.
    pub fn approval_groups(mut self, groups: impl IntoIterator<Item = i64>) -> Self {
        self.approval_groups = ids(groups);
        self
    }

    /// Sets one access list.
    pub fn list(self, list: AccessList, ids: impl IntoIterator<Item = i64>) -> Self {
        match list {
            AccessList::Roles => self.roles(ids),
            AccessList::UserGroups => self.user_groups(ids),
            AccessList::AccountGroups => self.account_groups(ids),
            AccessList::ContentGroups => self.content_groups(ids),
            AccessList::ApprovalGroups => self.approval_groups(ids),
        }
    }

    /// Sets one license flag.
    pub fn license(mut self, license: License, held: bool) -> Self {
        self.licenses.insert(license, held);
        self
    }
}

/// A login reference, as in `"manager": {"login": "boss"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginRef {
    /// The login.
    pub login: String,
}

/// A currency reference: `{"code": "USD"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeRef {
    /// The currency code.
    pub code: String,
}

/// A new user (`POST /api/users`). Empty optional values are omitted; there is no password.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct NewUser {
    /// Login (required, unique).
    pub login: String,
    /// Email (required, unique).
    pub email: String,
    /// First name (required).
    pub firstname: String,
    /// Last name (required).
    pub lastname: String,
    /// Whether the user starts active.
    pub active: Option<bool>,
    /// Employee number.
    pub employee_number: Option<String>,
    /// SSO identifier.
    pub sso_identifier: Option<String>,
    /// `coupa_credentials`, `ldap` or `saml`.
    pub authentication_method: Option<String>,
    /// Default locale.
    pub default_locale: Option<String>,
    /// Manager, by login.
    pub manager: Option<LoginRef>,
    /// Default currency, by code.
    pub default_currency: Option<CodeRef>,
    /// License flags.
    #[serde(flatten, skip_serializing_if = "is_empty_map")]
    pub licenses: BTreeMap<License, bool>,
}

impl NewUser {
    /// A user with the four required fields.
    pub fn new(
        login: impl Into<String>,
        email: impl Into<String>,
        firstname: impl Into<String>,
        lastname: impl Into<String>,
    ) -> Self {
        Self {
            login: login.into(),
            email: email.into(),
            firstname: firstname.into(),
            lastname: lastname.into(),
            active: None,
            employee_number: None,
            sso_identifier: None,
            authentication_method: None,
            default_locale: None,
            manager: None,
            default_currency: None,
            licenses: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_bodies_carry_only_what_is_set() {
        let update = UserUpdate::new().active(false).roles([]);
        let body = serde_json::to_value(&update).unwrap();
        assert_eq!(body, serde_json::json!({"active": false, "roles": []}));
        let empty = serde_json::to_value(UserUpdate::new()).unwrap();
        assert_eq!(empty, serde_json::json!({}));
    }

    #[test]
    fn decodes_a_projected_list_item() {
        let json = r#"{"id":42,"login":"jdoe","email":"jdoe@example.com","firstname":"J","lastname":"Doe",
          "fullname":"J Doe","active":true,"purchasing-user":true,"invoicing-user":false,
          "treasury_user":true,"quantum-user":true,"api-user":false,"employee-number":1234,
          "roles":[{"id":3,"name":"User"}],"user-groups":null,"business-groups":[{"id":1,"name":"Everyone"}],
          "account-groups":[],"custom-fields":{"cost-center":"X"}}"#;
        let user: User = serde_json::from_str(json).unwrap();
        assert_eq!(user.id, 42);
        assert_eq!(user.login.as_deref(), Some("jdoe"));
        assert_eq!(user.employee_number.as_deref(), Some("1234"));
        assert_eq!(
            user.roles,
            Some(vec![Reference::new(3, Some("User".into()))])
        );
        assert_eq!(user.user_groups, None, "null is unknown, not an empty list");
        assert_eq!(user.list(AccessList::ContentGroups).unwrap()[0].id, 1);
        assert_eq!(user.license(&License::Purchasing), Some(true));
        assert_eq!(user.license(&License::Expense), None, "absent is not false");
        let licenses: Vec<(String, bool)> = user
            .licenses
            .iter()
            .map(|(l, v)| (l.key().to_owned(), *v))
            .collect();
        assert_eq!(
            licenses,
            [
                ("purchasing-user".into(), true),
                ("treasury-user".into(), true),
                ("invoicing-user".into(), false),
                ("quantum-user".into(), true),
            ]
        );
        assert_eq!(user.api_user, Some(false), "api-user is not a license");
        assert!(user.extra.contains_key("custom-fields"));
    }

    #[test]
    fn absent_lists_are_none_not_empty() {
        let user: User = serde_json::from_str(r#"{"id":7,"roles":[]}"#).unwrap();
        assert_eq!(user.list(AccessList::Roles), Some(&[][..]));
        for list in [
            AccessList::UserGroups,
            AccessList::AccountGroups,
            AccessList::ContentGroups,
        ] {
            assert_eq!(user.list(list), None, "{list:?}");
        }
    }

    #[test]
    fn null_lists_are_none_not_empty() {
        for key in [
            "roles",
            "user-groups",
            "account-groups",
            "content-groups",
            "business-groups",
            "approval-groups",
        ] {
            let json = format!(r#"{{"id":7,"{key}":null}}"#);
            let user: User = serde_json::from_str(&json).unwrap();
            for list in AccessList::ALL {
                assert_eq!(user.list(list), None, "{key}: {list:?}");
            }
        }
    }

    #[test]
    fn approval_groups_and_limits_decode_as_carried() {
        let json = r#"{"id":7,"approval-groups":[{"id":11,"name":"Finance approvers"}],
          "requisition-approval-limit":{"id":35,"name":"5000.00 USD","amount":"5000.00",
            "currency":{"id":1,"code":"USD","decimals":2},"subject":"requisition_header"},
          "expense-approval-limit":null,
          "invoice-self-approval-limit":{"id":36,"amount":250,"currency":{"code":"EUR"}}}"#;
        let user: User = serde_json::from_str(json).unwrap();
        assert_eq!(
            user.list(AccessList::ApprovalGroups),
            Some(&[Reference::new(11, Some("Finance approvers".into()))][..])
        );
        let limit = |kind| user.approval_limits.get(&kind).cloned();
        let requisition = limit(ApprovalLimitKind::Requisition).flatten().unwrap();
        assert_eq!(
            (
                requisition.id,
                requisition.amount.as_deref(),
                requisition.currency.and_then(|c| c.code).as_deref()
            ),
            (35, Some("5000.00"), Some("USD"))
        );
        // `null` is carried as no limit; a key the answer left out has no entry.
        assert_eq!(limit(ApprovalLimitKind::Expense), Some(None));
        assert_eq!(limit(ApprovalLimitKind::Contract), None);
        let invoice = limit(ApprovalLimitKind::InvoiceSelf).flatten().unwrap();
        assert_eq!(invoice.amount.as_deref(), Some("250"));
        assert!(!user.extra.contains_key("requisition-approval-limit"));
        // Without the keys, nothing is known.
        let bare: User = serde_json::from_str(r#"{"id":8}"#).unwrap();
        assert_eq!(bare.list(AccessList::ApprovalGroups), None);
        assert!(bare.approval_limits.is_empty());
        let body =
            serde_json::to_value(UserUpdate::new().list(AccessList::ApprovalGroups, [11])).unwrap();
        assert_eq!(body, serde_json::json!({"approval-groups": [{"id": 11}]}));
    }

    #[test]
    fn content_and_business_groups_must_agree() {
        let agree = r#"{"id":7,"content-groups":[{"id":1},{"id":2}],"business-groups":[{"id":2,"name":"B"},{"id":1}]}"#;
        let user: User = serde_json::from_str(agree).unwrap();
        let ids: Vec<i64> = user.content_groups.unwrap().iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 2]);
        for disagree in [
            r#"{"id":7,"content-groups":[{"id":1}],"business-groups":[{"id":2}]}"#,
            r#"{"id":7,"business-groups":[],"content-groups":[{"id":1}]}"#,
            r#"{"id":7,"content-groups":null,"business-groups":[]}"#,
        ] {
            let error = serde_json::from_str::<User>(disagree).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("`content-groups` and `business-groups` disagree"),
                "{disagree}: {error}"
            );
        }
    }

    #[test]
    fn update_bodies_use_dash_keys_and_never_null() {
        let update = UserUpdate::new()
            .roles([])
            .user_groups([4, 5])
            .license(License::Treasury, true)
            .active(false);
        assert_eq!(
            serde_json::to_string(&update).unwrap(),
            r#"{"active":false,"roles":[],"user-groups":[{"id":4},{"id":5}],"treasury-user":true}"#
        );
        let mut user = NewUser::new("l", "e@x", "F", "L");
        user.manager = Some(LoginRef {
            login: "boss".into(),
        });
        assert_eq!(
            serde_json::to_string(&user).unwrap(),
            r#"{"login":"l","email":"e@x","firstname":"F","lastname":"L","manager":{"login":"boss"}}"#
        );
    }
}
