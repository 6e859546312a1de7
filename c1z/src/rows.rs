//! One sync's rows in baton's tables: the statements both writers use, so a `.c1z` written
//! from the store after a sync and one written while it ran hold the same rows.
//!
//! Resources and entitlements replace a row with the same id, a grant already written is kept,
//! as the SDK's stores do. (Without the unique indexes, while [`crate::Writer`] bulk-loads, the
//! conflict clauses do nothing; the store has already settled duplicates.)

use std::path::Path;
use std::time::SystemTime;

use connector_sdk::{Entitlement, EntitlementId, Grant, Resource, ResourceId, ResourceType};
use prost::Message;
use rusqlite::{Connection, params};

use crate::convert::{self, entitlement_key, grant_key, resource_key};
use crate::error::Database as _;
use crate::{Error, ksuid, pb};

const SCHEMA: &str = include_str!("schema.sql");
/// baton's indexes.
pub(crate) const INDEXES: &str = include_str!("indexes.sql");

/// Opens a new database at `db` for writing a `.c1z`: baton's tables and indexes, no journal
/// to sync, `cache_kib` of page cache (which also bounds each sorter that builds an index) and
/// no sorter threads (each would take as much memory again).
pub(crate) fn create(db: &Path, cache_kib: i64) -> Result<Connection, Error> {
    let conn = Connection::open(db).database()?;
    conn.pragma_update(None, "journal_mode", "DELETE")
        .database()?;
    conn.pragma_update(None, "synchronous", "OFF").database()?;
    conn.pragma_update(None, "cache_size", -cache_kib)
        .database()?;
    conn.pragma_update(None, "threads", 0).database()?;
    conn.execute_batch(SCHEMA).database()?;
    Ok(conn)
}

/// What every row of one sync carries.
pub(crate) struct Stamp {
    /// The sync's id.
    pub(crate) sync_id: String,
    /// When its rows were discovered, as baton writes time stamps.
    pub(crate) discovered: String,
}

/// The sync's own row (finished, full) and the fingerprint of the run it was written from.
pub(crate) fn sync_run(
    conn: &Connection,
    sync_id: &str,
    started: SystemTime,
    ended: SystemTime,
    fingerprint: &str,
) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type,
         parent_sync_id, linked_sync_id, supports_diff, grants_backfilled, stats)
         VALUES (?1, ?2, ?3, '', 'full', '', '', 0, 1, NULL)",
        params![sync_id, ksuid::timestamp(started), ksuid::timestamp(ended)],
    )
    .database()?;
    conn.execute(
        "INSERT INTO c1z_sync_fingerprints (sync_id, fingerprint) VALUES (?1, ?2)",
        params![sync_id, fingerprint],
    )
    .database()?;
    Ok(())
}

/// A resource type's row; returns its message.
pub(crate) fn resource_type(
    conn: &Connection,
    rt: &ResourceType,
    stamp: &Stamp,
) -> Result<pb::ResourceType, Error> {
    let message = convert::resource_type(rt);
    conn.prepare_cached(
        "INSERT OR REPLACE INTO v1_resource_types (external_id, data, sync_id, discovered_at)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .database()?
    .execute(params![
        rt.id.as_str(),
        message.encode_to_vec(),
        stamp.sync_id,
        stamp.discovered
    ])
    .database()?;
    Ok(message)
}

/// A resource's row, `data` its encoded message.
pub(crate) fn resource(
    conn: &Connection,
    r: &Resource,
    data: &[u8],
    stamp: &Stamp,
) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO v1_resources (resource_type_id, external_id,
         parent_resource_type_id, parent_resource_id, data, sync_id, discovered_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .database()?
    .execute(params![
        r.id.resource_type.as_str(),
        resource_key(&r.id),
        r.parent.as_ref().map(|p| p.resource_type.as_str()),
        r.parent.as_ref().map(|p| p.id.as_str()),
        data,
        stamp.sync_id,
        stamp.discovered
    ])
    .database()?;
    Ok(())
}

/// An entitlement's row, `data` its encoded message.
pub(crate) fn entitlement(
    conn: &Connection,
    e: &Entitlement,
    data: &[u8],
    stamp: &Stamp,
) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO v1_entitlements (resource_type_id, resource_id, external_id,
         data, sync_id, discovered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .database()?
    .execute(params![
        e.id.resource.resource_type.as_str(),
        e.id.resource.id,
        entitlement_key(&e.id),
        data,
        stamp.sync_id,
        stamp.discovered
    ])
    .database()?;
    Ok(())
}

/// A grant's row, `data` its encoded message.
pub(crate) fn grant(conn: &Connection, g: &Grant, data: &[u8], stamp: &Stamp) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO v1_grants (resource_type_id, resource_id, entitlement_id,
         principal_resource_type_id, principal_resource_id, external_id, expansion,
         needs_expansion, data, sync_id, discovered_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0, ?7, ?8, ?9)",
    )
    .database()?
    .execute(params![
        g.entitlement.resource.resource_type.as_str(),
        g.entitlement.resource.id,
        entitlement_key(&g.entitlement),
        g.principal.resource_type.as_str(),
        g.principal.id,
        grant_key(g),
        data,
        stamp.sync_id,
        stamp.discovered
    ])
    .database()?;
    Ok(())
}

/// The message of a resource the run does not hold, as baton's slim rows have it: the id alone.
pub(crate) fn slim_resource(id: &ResourceId) -> pb::Resource {
    pb::Resource {
        id: Some(convert::id(id)),
        ..pb::Resource::default()
    }
}

/// The message of an entitlement offered by the resource `owner`, grantable to the types
/// `catalogue` has in full (others by their id alone).
pub(crate) fn entitlement_message(
    e: &Entitlement,
    owner: pb::Resource,
    catalogue: &crate::writer::Catalogue,
) -> pb::Entitlement {
    let grantable_to = e
        .grantable_to
        .iter()
        .map(|t| {
            catalogue.get(t).map_or_else(
                || pb::ResourceType {
                    id: t.as_str().to_owned(),
                    ..pb::ResourceType::default()
                },
                |(_, m)| m.clone(),
            )
        })
        .collect();
    convert::entitlement(e, owner, grantable_to)
}

/// The bytes of the entitlement a grant of `id` embeds (`{resource, id}`), `owner` its
/// resource's encoded message: the bytes prost writes for [`convert::grant_entitlement`].
pub(crate) fn grant_head(id: &EntitlementId, owner: &[u8]) -> Vec<u8> {
    use prost::encoding::{WireType, encode_key, encode_varint, string};
    let key = entitlement_key(id);
    let mut out = Vec::with_capacity(owner.len() + key.len() + 8);
    encode_key(1, WireType::LengthDelimited, &mut out);
    encode_varint(owner.len() as u64, &mut out);
    out.extend_from_slice(owner);
    string::encode(2, &key, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_head_is_the_entitlement_message_prost_writes() {
        let id = EntitlementId::new(ResourceId::new("group", "7"), "member");
        for owner in [
            rows_owner(),
            slim_resource(&id.resource),
            pb::Resource::default(),
        ] {
            assert_eq!(
                grant_head(&id, &owner.encode_to_vec()),
                convert::grant_entitlement(&id, owner).encode_to_vec()
            );
        }
    }

    fn rows_owner() -> pb::Resource {
        let mut group = Resource::new(ResourceId::new("group", "7"), "Group 7");
        group.description = Some("seven".into());
        convert::resource(&group, &[connector_sdk::ResourceTrait::Group])
    }
}
