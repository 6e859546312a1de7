//! Entitlements and grants.

use serde::{Deserialize, Serialize};

use super::{Annotation, EntitlementId, GrantId, ResourceId, ResourceTypeId};

/// What holding an entitlement means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Purpose {
    /// Membership or assignment: the principal *is in* the resource (group member, role holder).
    Assignment,
    /// A permission on the resource (owner, admin).
    Permission,
}

/// Something a principal can hold on a resource, such as membership of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Entitlement {
    /// Typed id: the resource and the slug.
    pub id: EntitlementId,
    /// Name for people.
    pub display_name: String,
    /// Optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Assignment or permission.
    pub purpose: Purpose,
    /// The resource types that may hold this entitlement.
    pub grantable_to: Vec<ResourceTypeId>,
    /// Typed annotations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

impl Entitlement {
    /// An entitlement with the slug `slug` on `resource`.
    pub fn new(
        resource: ResourceId,
        slug: impl Into<String>,
        display_name: impl Into<String>,
        purpose: Purpose,
        grantable_to: impl IntoIterator<Item = ResourceTypeId>,
    ) -> Self {
        Self {
            id: EntitlementId::new(resource, slug),
            display_name: display_name.into(),
            description: None,
            purpose,
            grantable_to: grantable_to.into_iter().collect(),
            annotations: Vec::new(),
        }
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds an annotation.
    pub fn with_annotation(mut self, annotation: Annotation) -> Self {
        self.annotations.push(annotation);
        self
    }
}

/// A principal holding an entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Grant {
    /// The entitlement held.
    pub entitlement: EntitlementId,
    /// Who holds it.
    pub principal: ResourceId,
    /// Typed annotations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

impl Grant {
    /// `principal` holds `entitlement`.
    pub fn new(entitlement: EntitlementId, principal: ResourceId) -> Self {
        Self {
            entitlement,
            principal,
            annotations: Vec::new(),
        }
    }

    /// Adds an annotation.
    pub fn with_annotation(mut self, annotation: Annotation) -> Self {
        self.annotations.push(annotation);
        self
    }

    /// The grant's id, derived from its entitlement and principal alone.
    pub fn id(&self) -> GrantId {
        GrantId {
            entitlement: self.entitlement.clone(),
            principal: self.principal.clone(),
        }
    }
}
