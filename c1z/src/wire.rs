//! baton's `c1.connector.v2` messages as bytes, in the SDK's terms, for hosts that speak baton's
//! protocols (the ConductorOne service mode). A protobuf message that embeds a baton resource,
//! entitlement or grant can declare that field as `bytes` (the wire format is the same) and read
//! or write it with these functions; the message types themselves stay private to this crate.

use connector_sdk::{Entitlement, EntitlementId, Grant, Resource, ResourceTrait, ResourceType};
use prost::Message;
use prost_types::Struct;
use serde_json::{Map, Value};

use crate::{convert, pb};

/// Bytes that are not the message they should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a baton {message}: {reason}")]
pub struct WireError {
    /// The message expected, such as `Grant`.
    pub message: &'static str,
    /// Why.
    pub reason: String,
}

fn decode<M: Message + Default>(message: &'static str, bytes: &[u8]) -> Result<M, WireError> {
    M::decode(bytes).map_err(|e| WireError {
        message,
        reason: e.to_string(),
    })
}

fn missing(message: &'static str, what: &str) -> WireError {
    WireError {
        message,
        reason: format!("{what} is missing"),
    }
}

/// `c1.connector.v2.ResourceType`.
pub fn resource_type(resource_type: &ResourceType) -> Vec<u8> {
    convert::resource_type(resource_type).encode_to_vec()
}

/// `c1.connector.v2.Resource`, with the traits of its type (see [`crate::Writer`]).
pub fn resource(resource: &Resource, traits: &[ResourceTrait]) -> Vec<u8> {
    convert::resource(resource, traits).encode_to_vec()
}

/// `c1.connector.v2.Grant`: the entitlement as `{resource: {id}, id}`, the principal as `{id}`.
pub fn grant(grant: &Grant) -> Vec<u8> {
    let resource = pb::Resource {
        id: Some(convert::id(&grant.entitlement.resource)),
        ..pb::Resource::default()
    };
    convert::grant(grant, resource).encode_to_vec()
}

/// `c1.connector.v2.Entitlement` naming `id`: its resource as `{id}`, its id and slug (what a
/// grant task carries at least).
pub fn entitlement_ref(id: &EntitlementId) -> Vec<u8> {
    let resource = pb::Resource {
        id: Some(convert::id(&id.resource)),
        ..pb::Resource::default()
    };
    let mut entitlement = convert::grant_entitlement(id, resource);
    entitlement.slug = id.slug.clone();
    entitlement.encode_to_vec()
}

/// A `c1.connector.v2.Resource`; it must have an id.
pub fn read_resource(bytes: &[u8]) -> Result<Resource, WireError> {
    let message: pb::Resource = decode("Resource", bytes)?;
    convert::resource_from(&message).ok_or_else(|| missing("Resource", "its id"))
}

/// A `c1.connector.v2.Entitlement`; it must have a resource with an id.
pub fn read_entitlement(bytes: &[u8]) -> Result<Entitlement, WireError> {
    let message: pb::Entitlement = decode("Entitlement", bytes)?;
    convert::entitlement_from(&message)
        .ok_or_else(|| missing("Entitlement", "its resource or the resource's id"))
}

/// A `c1.connector.v2.Grant`; it must have an entitlement and a principal, each with an id.
pub fn read_grant(bytes: &[u8]) -> Result<Grant, WireError> {
    let message: pb::Grant = decode("Grant", bytes)?;
    convert::grant_from(&message)
        .ok_or_else(|| missing("Grant", "its entitlement, principal or one of their ids"))
}

/// A JSON object as a `google.protobuf.Struct` (numbers as doubles, as Go's `structpb`).
pub fn json_struct(object: &Map<String, Value>) -> Vec<u8> {
    convert::json_struct(object).encode_to_vec()
}

/// A `google.protobuf.Struct` as a JSON object (a whole number a double holds exactly comes back
/// as an integer).
pub fn read_json_struct(bytes: &[u8]) -> Result<Map<String, Value>, WireError> {
    let message: Struct = decode("Struct", bytes)?;
    Ok(convert::struct_json(&message))
}

/// A new KSUID (27 base62 characters), the shape of baton's task, sync and action ids.
pub fn ksuid() -> String {
    crate::ksuid::ksuid(std::time::SystemTime::now(), rand::random())
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_sdk::ResourceId;

    #[test]
    fn grants_and_resources_round_trip_and_garbage_is_an_error() {
        let g = Grant::new(
            EntitlementId::new(ResourceId::new("group", "7"), "member"),
            ResourceId::new("user", "42"),
        );
        assert_eq!(read_grant(&grant(&g)), Ok(g.clone()));
        assert_eq!(
            read_entitlement(&entitlement_ref(&g.entitlement))
                .unwrap()
                .id,
            g.entitlement
        );
        let r = Resource::new(ResourceId::new("user", "42"), "Ada");
        assert_eq!(read_resource(&resource(&r, &[])).unwrap().id, r.id);
        assert_eq!(
            read_grant(&[]),
            Err(WireError {
                message: "Grant",
                reason: "its entitlement, principal or one of their ids is missing".into()
            })
        );
        assert!(read_entitlement(&[0xff, 0xff]).is_err());
        let args: Map<String, Value> =
            serde_json::from_str(r#"{"user_id": "7", "force": true, "n": 3}"#).unwrap();
        assert_eq!(read_json_struct(&json_struct(&args)), Ok(args));
        assert_eq!(ksuid().len(), 27);
    }
}
