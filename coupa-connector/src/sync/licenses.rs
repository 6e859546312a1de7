//! Licenses: one resource per license flag, with its `assigned` entitlement. No request.

use async_trait::async_trait;
use connector_sdk::{
    ConnectorError, Entitlement, ListRequest, Page, Purpose, Resource, ResourceId, ResourceSyncer,
    ResourceTrait, ResourceType, ResourceTypeId,
};
use coupa_client::License;

use crate::ids;

pub(crate) struct Licenses;

#[async_trait]
impl ResourceSyncer for Licenses {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new(ids::LICENSE, "License", [ResourceTrait::LicenseProfile])
    }

    async fn list(&self, _request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let resources: Vec<Resource> = License::ALL
            .iter()
            .map(|l| {
                Resource::new(ResourceId::new(ids::LICENSE, l.key()), l.display_name())
                    .with_description(format!(
                        "Coupa {} license (`{}`)",
                        l.display_name(),
                        l.key()
                    ))
            })
            .collect();
        let entitlements: Vec<Entitlement> = resources
            .iter()
            .map(|r| {
                Entitlement::new(
                    r.id.clone(),
                    ids::ASSIGNED,
                    format!("{} license", r.display_name),
                    Purpose::Assignment,
                    [ResourceTypeId::new(ids::USER)],
                )
            })
            .collect();
        Ok(Page::new(resources).with_entitlements(entitlements))
    }
}
