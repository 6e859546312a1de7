-- baton's v1 .c1z database (baton-sdk v0.25 shape): seven tables, sixteen indexes. Index names
-- are baton's, swapped pair included (idx_resources_external_sync_v1 is the parent index,
-- idx_resources_parent_resource_id_v1 the unique one): readers create indexes by name.
-- Timestamps are declared datetime so Go drivers scan them as times.

CREATE TABLE IF NOT EXISTS v1_resource_types (
    id integer primary key,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);

CREATE TABLE IF NOT EXISTS v1_resources (
    id integer primary key,
    resource_type_id text not null,
    external_id text not null,
    parent_resource_type_id text,
    parent_resource_id text,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);

CREATE TABLE IF NOT EXISTS v1_entitlements (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);

CREATE TABLE IF NOT EXISTS v1_grants (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    entitlement_id text not null,
    principal_resource_type_id text not null,
    principal_resource_id text not null,
    external_id text not null,
    expansion blob,
    needs_expansion integer not null default 0,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);

CREATE TABLE IF NOT EXISTS v1_sync_runs (
    id integer primary key,
    sync_id text not null,
    started_at datetime not null,
    ended_at datetime,
    sync_token text not null,
    sync_type text not null default 'full',
    parent_sync_id text not null default '',
    linked_sync_id text not null default '',
    supports_diff integer not null default 0,
    grants_backfilled integer not null default 0,
    stats text,
    ingest_invariant_generation text not null default '',
    ingest_invariant_coverage text not null default '',
    ingest_invariant_mode text not null default ''
);

CREATE TABLE IF NOT EXISTS v1_assets (
    id integer primary key,
    external_id text not null,
    content_type text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);

CREATE TABLE IF NOT EXISTS v1_connector_sessions (
    id integer primary key,
    sync_id text not null,
    key text not null,
    value blob not null
);

-- Not baton's (baton's readers ignore tables they do not know): which tenant and settings each
-- sync written here came from, so a file is never written into with another tenant's sync.
CREATE TABLE IF NOT EXISTS c1z_sync_fingerprints (
    sync_id text primary key,
    fingerprint text not null
);
