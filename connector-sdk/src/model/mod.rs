//! The resource, entitlement and grant model shared by every connector.

mod annotation;
mod entitlement;
mod ids;
mod resource;
mod stage;

pub use annotation::Annotation;
pub use entitlement::{Entitlement, Grant, Purpose};
pub use ids::{EntitlementId, GrantId, IdParseError, ResourceId, ResourceTypeId};
pub use resource::{
    AccountType, Email, Resource, ResourceStatus, ResourceTrait, ResourceType, UserTrait,
};
pub use stage::Stage;
