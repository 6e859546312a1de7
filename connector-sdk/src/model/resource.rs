//! Resource types and resources.

use serde::{Deserialize, Serialize};

use super::{Annotation, ResourceId, ResourceTypeId};

/// What kind of thing a resource type models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResourceTrait {
    /// A person or service account that can hold grants.
    User,
    /// A set of members.
    Group,
    /// A named bundle of permissions.
    Role,
    /// A license or product seat.
    LicenseProfile,
    /// An application.
    App,
}

/// A kind of resource a connector syncs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceType {
    /// Stable id, such as `user`.
    pub id: ResourceTypeId,
    /// Name for people, such as `User`.
    pub display_name: String,
    /// Optional longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What the type models.
    pub traits: Vec<ResourceTrait>,
}

impl ResourceType {
    /// A resource type with an id, display name and traits.
    pub fn new(
        id: impl Into<ResourceTypeId>,
        display_name: impl Into<String>,
        traits: impl IntoIterator<Item = ResourceTrait>,
    ) -> Self {
        Self {
            id: id.into(),
            display_name: display_name.into(),
            description: None,
            traits: traits.into_iter().collect(),
        }
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// The lifecycle status of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResourceStatus {
    /// Active and usable.
    Enabled,
    /// Exists but cannot be used.
    Disabled,
    /// Marked deleted upstream.
    Deleted,
}

impl ResourceStatus {
    /// `Enabled` for an active account, `Disabled` otherwise: the status most systems keep as one
    /// flag.
    pub fn from_active(active: bool) -> Self {
        if active {
            Self::Enabled
        } else {
            Self::Disabled
        }
    }
}

/// Who or what a user account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AccountType {
    /// A person.
    #[default]
    Human,
    /// A service or API account.
    Service,
    /// A built-in system account.
    System,
}

/// One email address of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Email {
    /// The address.
    pub address: String,
    /// Whether this is the user's primary address.
    pub primary: bool,
}

impl Email {
    /// An address, primary or not.
    pub fn new(address: impl Into<String>, primary: bool) -> Self {
        Self {
            address: address.into(),
            primary,
        }
    }
}

/// User-specific attributes of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct UserTrait {
    /// Login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// Email addresses; at most one is primary.
    #[serde(default)]
    pub emails: Vec<Email>,
    /// Whose account this is.
    #[serde(default)]
    pub account_type: AccountType,
    /// Employee number or id, where the system has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
}

impl UserTrait {
    /// An empty user trait for a human account.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the login.
    pub fn with_login(mut self, login: impl Into<String>) -> Self {
        self.login = Some(login.into());
        self
    }

    /// Adds an email address.
    pub fn with_email(mut self, address: impl Into<String>, primary: bool) -> Self {
        self.emails.push(Email {
            address: address.into(),
            primary,
        });
        self
    }

    /// Sets the account type.
    pub fn with_account_type(mut self, account_type: AccountType) -> Self {
        self.account_type = account_type;
        self
    }

    /// Sets the employee id.
    pub fn with_employee_id(mut self, employee_id: impl Into<String>) -> Self {
        self.employee_id = Some(employee_id.into());
        self
    }
}

/// One synced object: a user, a group, a role, a license...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resource {
    /// Typed id.
    pub id: ResourceId,
    /// The parent resource, for resources listed as children of another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ResourceId>,
    /// Name for people.
    pub display_name: String,
    /// Optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Lifecycle status, where the system reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResourceStatus>,
    /// User attributes, for user resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserTrait>,
    /// Further attributes as a JSON object.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub profile: serde_json::Map<String, serde_json::Value>,
    /// Typed annotations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

impl Resource {
    /// A resource with an id and a display name.
    pub fn new(id: ResourceId, display_name: impl Into<String>) -> Self {
        Self {
            id,
            parent: None,
            display_name: display_name.into(),
            description: None,
            status: None,
            user: None,
            profile: serde_json::Map::new(),
            annotations: Vec::new(),
        }
    }

    /// Sets the parent.
    pub fn with_parent(mut self, parent: ResourceId) -> Self {
        self.parent = Some(parent);
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the status.
    pub fn with_status(mut self, status: ResourceStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the user trait.
    pub fn with_user(mut self, user: UserTrait) -> Self {
        self.user = Some(user);
        self
    }

    /// Sets one profile attribute.
    pub fn with_profile(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.profile.insert(key.into(), value.into());
        self
    }

    /// Adds an annotation.
    pub fn with_annotation(mut self, annotation: Annotation) -> Self {
        self.annotations.push(annotation);
        self
    }

    /// The child resource types this resource declares.
    pub fn child_types(&self) -> impl Iterator<Item = &ResourceTypeId> {
        self.annotations.iter().filter_map(|a| match a {
            Annotation::ChildResourceType { resource_type } => Some(resource_type),
            _ => None,
        })
    }

    /// Whether the resource carries an annotation equal to `annotation`.
    pub fn has_annotation(&self, annotation: &Annotation) -> bool {
        self.annotations.contains(annotation)
    }
}
