-- connector-sdk PostgresStore schema, migration 1. Every row belongs to a sync run (`run_id`).
-- The tables and columns are SqliteStore's (connector-sdk/src/store/schema.sql), with two
-- differences: key columns compare bytewise (COLLATE "C", as SQLite's keys do), and the grants
-- of a run live in tables of their own (see `grants`).

-- Identity: a deleted run's id is never handed out again.
CREATE TABLE sync_runs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector      TEXT COLLATE "C" NOT NULL,
    started_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT,
    status         TEXT   NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    fingerprint    TEXT   NOT NULL,  -- what determines the output; only an equal one resumes
    failure        TEXT,             -- why a failed run failed
    holder         TEXT,             -- the engine holding a running run: Holder as JSON
    heartbeat_ms   BIGINT            -- the holder's last heartbeat
);
CREATE INDEX sync_runs_by_connector ON sync_runs (connector, status, id);

CREATE TABLE resource_types (
    run_id       BIGINT NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    display_name TEXT NOT NULL,
    data         TEXT NOT NULL, -- the ResourceType as JSON
    PRIMARY KEY (run_id, id)
);

CREATE TABLE resources (
    run_id        BIGINT NOT NULL,
    resource_type TEXT COLLATE "C" NOT NULL,
    resource_id   TEXT COLLATE "C" NOT NULL,
    parent        TEXT,            -- string form of the parent ResourceId
    display_name  TEXT NOT NULL,
    status        TEXT,            -- enabled | disabled | deleted
    login         TEXT,            -- user trait login
    email         TEXT,            -- user trait primary email
    data          TEXT NOT NULL,   -- the Resource as JSON
    PRIMARY KEY (run_id, resource_type, resource_id)
);

CREATE TABLE entitlements (
    run_id        BIGINT NOT NULL,
    resource_type TEXT COLLATE "C" NOT NULL,
    resource_id   TEXT COLLATE "C" NOT NULL,
    slug          TEXT COLLATE "C" NOT NULL,
    display_name  TEXT NOT NULL,
    purpose       TEXT NOT NULL,   -- assignment | permission
    grantable_to  TEXT NOT NULL,   -- ',user,group,': encoded resource type ids between commas
    data          TEXT NOT NULL,   -- the Entitlement as JSON
    PRIMARY KEY (run_id, resource_type, resource_id, slug)
);

-- Grants of sealed runs, one partition per run (`grants_<run>`). A page commit appends its
-- grants to the run's `grants_pending_<run>`, a table without indexes; sealing the run copies
-- them in key order, without duplicates, into a new partition, builds its two indexes from
-- sorted rows and drops the pending table, in one transaction. Deleting a run drops its
-- partition. Until a run is sealed its grants are out of sight of the queries, as in SQLite.
CREATE TABLE grants (
    run_id           BIGINT NOT NULL,
    entitlement_type TEXT COLLATE "C" NOT NULL,
    entitlement_id   TEXT COLLATE "C" NOT NULL,
    slug             TEXT COLLATE "C" NOT NULL,
    principal_type   TEXT COLLATE "C" NOT NULL,
    principal_id     TEXT COLLATE "C" NOT NULL,
    annotations      TEXT,           -- JSON array, NULL when empty
    -- The five key columns in one value that sorts as they do: each column's UTF-8 bytes,
    -- separated by a zero byte (text never holds one, and it sorts before every other byte).
    -- Its index is the entitlement order of the keyset pages; one bytea sorts in a third of the
    -- time five text columns take when the first ones are the same for every grant.
    entitlement_key  BYTEA  NOT NULL,
    PRIMARY KEY (run_id, entitlement_key)
) PARTITION BY LIST (run_id);
-- A principal has few grants: they are found by principal and sorted by entitlement when read.
CREATE INDEX grants_by_principal ON grants (run_id, principal_type, principal_id);

CREATE TABLE warnings (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id  BIGINT NOT NULL,
    message TEXT   NOT NULL
);
CREATE INDEX warnings_by_run ON warnings (run_id, id);

-- The engine's pending work: one row per page still to fetch, deleted in the transaction that
-- stores the page's data.
CREATE TABLE work (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        BIGINT  NOT NULL,
    stage         BIGINT  NOT NULL, -- 1 resources, 2 entitlements, 3 grants
    kind          TEXT    NOT NULL, -- resources | entitlements | grants
    resource_type TEXT    NOT NULL, -- the syncer's resource type
    scope         TEXT,             -- parent (resources) or resource (others), string form
    token         TEXT,             -- NULL for a first page
    claimed       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX work_by_stage ON work (run_id, stage, claimed, id);

-- Every page token handed out, per listing: a repeat is a paging bug, reported instead of looped.
CREATE TABLE page_tokens (
    run_id        BIGINT NOT NULL,
    kind          TEXT   NOT NULL,
    resource_type TEXT   NOT NULL,
    scope         TEXT   NOT NULL, -- '' for a top-level listing
    token         TEXT   NOT NULL,
    PRIMARY KEY (run_id, kind, resource_type, scope, token)
);

-- The write-ahead journal of multi-request writes (connector_sdk::journal).
CREATE TABLE write_intents (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector      TEXT   NOT NULL,
    fingerprint    TEXT   NOT NULL, -- the tenant the write went to
    principal      TEXT   NOT NULL, -- ResourceId, `type:id`
    entitlement    TEXT   NOT NULL, -- EntitlementId, `type:id:slug`
    operation      TEXT   NOT NULL, -- 'grant' | 'revoke'
    attribute      TEXT   NOT NULL, -- the list the write rewrites, as the connector names it
    before         TEXT   NOT NULL, -- JSON array of ResourceIds the list held before
    actor          TEXT,
    holder         TEXT   NOT NULL, -- the writing process: Holder as JSON
    started_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT,          -- NULL while open
    resolution     TEXT             -- 'completed', or what a repair restored
);
CREATE INDEX write_intents_open ON write_intents (connector, finished_at_ms);

-- What a connector learned of a tenant (the rate an upstream grants), per connector and tenant.
CREATE TABLE learned (
    connector   TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    value       TEXT   NOT NULL,
    at_ms       BIGINT NOT NULL,
    PRIMARY KEY (connector, fingerprint)
);
