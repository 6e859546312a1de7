//! Typed identifiers and their reversible string form.
//!
//! Inside the SDK every identifier is a typed value. Hosts that need one string per id get the
//! *string form*: the id's components, each percent-encoded (every byte outside `A-Z a-z 0-9 - . _ ~`
//! becomes `%XX`), joined with `:`. Because a component can never contain a raw `:`, the form is
//! unambiguous and parses back to exactly the same value:
//!
//! | id | components | example |
//! |---|---|---|
//! | [`ResourceTypeId`] | type | `user` |
//! | [`ResourceId`] | type, id | `user:42` |
//! | [`EntitlementId`] | type, id, slug | `group:7:member` |
//! | [`GrantId`] | entitlement type, id, slug, principal type, id | `group:7:member:user:42` |
//!
//! A component holding `:` is encoded: the resource `user` / `a:b` is `user:a%3Ab`.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_with::{DeserializeFromStr, SerializeDisplay};

/// Bytes that are encoded in a component: everything but RFC 3986 "unreserved".
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why an id string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid {kind} id {input:?}: expected {expected} `:`-separated percent-encoded components"
)]
pub struct IdParseError {
    kind: &'static str,
    input: String,
    expected: usize,
}

fn encode(out: &mut fmt::Formatter<'_>, component: &str) -> fmt::Result {
    for chunk in utf8_percent_encode(component, COMPONENT) {
        out.write_str(chunk)?;
    }
    Ok(())
}

fn split<const N: usize>(kind: &'static str, input: &str) -> Result<[String; N], IdParseError> {
    let err = || IdParseError {
        kind,
        input: input.to_owned(),
        expected: N,
    };
    let mut parts = input.split(':');
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for slot in &mut out {
        let raw = parts.next().ok_or_else(err)?;
        *slot = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| err())?
            .into_owned();
    }
    if parts.next().is_some() {
        return Err(err());
    }
    Ok(out)
}

/// The id of a resource type, such as `user` or `group`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, SerializeDisplay, DeserializeFromStr,
)]
pub struct ResourceTypeId(String);

impl ResourceTypeId {
    /// A resource type id from its name.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The raw (unencoded) name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ResourceTypeId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl fmt::Display for ResourceTypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        encode(f, &self.0)
    }
}

impl FromStr for ResourceTypeId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let [id] = split::<1>("resource type", s)?;
        Ok(Self(id))
    }
}

/// The id of one resource: its type and its id within that type.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, SerializeDisplay, DeserializeFromStr,
)]
pub struct ResourceId {
    /// The resource's type.
    pub resource_type: ResourceTypeId,
    /// The id within the type, as the upstream system spells it.
    pub id: String,
}

impl ResourceId {
    /// A resource id from its type and id.
    pub fn new(resource_type: impl Into<ResourceTypeId>, id: impl Into<String>) -> Self {
        Self {
            resource_type: resource_type.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        encode(f, self.resource_type.as_str())?;
        f.write_str(":")?;
        encode(f, &self.id)
    }
}

impl FromStr for ResourceId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let [resource_type, id] = split::<2>("resource", s)?;
        Ok(Self::new(ResourceTypeId(resource_type), id))
    }
}

/// The id of an entitlement: the resource that offers it and a slug naming it on that resource.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, SerializeDisplay, DeserializeFromStr,
)]
pub struct EntitlementId {
    /// The resource that offers the entitlement.
    pub resource: ResourceId,
    /// The entitlement's name on that resource, such as `member`.
    pub slug: String,
}

impl EntitlementId {
    /// An entitlement id from its resource and slug.
    pub fn new(resource: ResourceId, slug: impl Into<String>) -> Self {
        Self {
            resource,
            slug: slug.into(),
        }
    }
}

impl fmt::Display for EntitlementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.resource)?;
        encode(f, &self.slug)
    }
}

impl FromStr for EntitlementId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let [resource_type, id, slug] = split::<3>("entitlement", s)?;
        Ok(Self::new(
            ResourceId::new(ResourceTypeId(resource_type), id),
            slug,
        ))
    }
}

/// The id of a grant, derived from its entitlement and principal: the same pair always gives the
/// same id.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, SerializeDisplay, DeserializeFromStr,
)]
pub struct GrantId {
    /// The entitlement granted.
    pub entitlement: EntitlementId,
    /// Who holds it.
    pub principal: ResourceId,
}

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.entitlement, self.principal)
    }
}

impl FromStr for GrantId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let [et, eid, slug, pt, pid] = split::<5>("grant", s)?;
        Ok(Self {
            entitlement: EntitlementId::new(ResourceId::new(ResourceTypeId(et), eid), slug),
            principal: ResourceId::new(ResourceTypeId(pt), pid),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn string_forms_are_documented_shape() {
        let user = ResourceId::new("user", "42");
        assert_eq!(user.to_string(), "user:42");
        let ent = EntitlementId::new(ResourceId::new("group", "7"), "member");
        assert_eq!(ent.to_string(), "group:7:member");
        let grant = GrantId {
            entitlement: ent,
            principal: user,
        };
        assert_eq!(grant.to_string(), "group:7:member:user:42");
        assert_eq!(ResourceId::new("user", "a:b").to_string(), "user:a%3Ab");
    }

    #[test]
    fn wrong_component_count_is_an_error() {
        let err = "user".parse::<ResourceId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid resource id \"user\": expected 2 `:`-separated percent-encoded components"
        );
        assert!("a:b:c".parse::<ResourceId>().is_err());
        assert!("a:b".parse::<GrantId>().is_err());
        assert!("user:%FF".parse::<ResourceId>().is_err(), "invalid UTF-8");
    }

    #[test]
    fn serde_uses_the_string_form() {
        let id = ResourceId::new("user", "a b");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"user:a%20b\"");
        assert_eq!(serde_json::from_str::<ResourceId>(&json).unwrap(), id);
    }

    proptest! {
        #[test]
        fn grant_ids_round_trip(a in ".*", b in ".*", c in ".*", d in ".*", e in ".*") {
            let id = GrantId {
                entitlement: EntitlementId::new(ResourceId::new(a.as_str(), b), c),
                principal: ResourceId::new(d.as_str(), e),
            };
            let parsed: GrantId = id.to_string().parse().unwrap();
            prop_assert_eq!(parsed, id);
        }

        #[test]
        fn resource_ids_round_trip(a in ".*", b in ".*") {
            let id = ResourceId::new(a.as_str(), b);
            prop_assert_eq!(id.to_string().parse::<ResourceId>().unwrap(), id);
        }
    }
}
