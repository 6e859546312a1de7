-- connector-sdk SqliteStore schema, version 2 (version 1 files are migrated on open). Every row belongs to a sync run (`run_id`).
-- Ids are stored as their raw components; `parent` and `scope` use the documented string form
-- of a ResourceId (`type:id`, each part percent-encoded).

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- AUTOINCREMENT: a deleted run's id is never handed out again.
CREATE TABLE IF NOT EXISTS sync_runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    connector      TEXT    NOT NULL,
    started_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER,
    status         TEXT    NOT NULL, -- 'running' (also killed or cancelled: resumable) | 'completed' | 'failed'
    fingerprint    TEXT    NOT NULL DEFAULT '', -- what determines the output; only an equal one resumes
    failure        TEXT,             -- why a failed run failed
    holder         TEXT,             -- the engine holding a running run: Holder as JSON
    heartbeat_ms   INTEGER           -- the holder's last heartbeat
);

CREATE TABLE IF NOT EXISTS resource_types (
    run_id       INTEGER NOT NULL,
    id           TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    data         TEXT    NOT NULL, -- the ResourceType as JSON
    PRIMARY KEY (run_id, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS resources (
    run_id        INTEGER NOT NULL,
    resource_type TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL,
    parent        TEXT,            -- string form of the parent ResourceId
    display_name  TEXT    NOT NULL,
    status        TEXT,            -- enabled | disabled | deleted
    login         TEXT,            -- user trait login
    email         TEXT,            -- user trait primary email
    data          TEXT    NOT NULL, -- the Resource as JSON
    PRIMARY KEY (run_id, resource_type, resource_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS entitlements (
    run_id        INTEGER NOT NULL,
    resource_type TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL,
    slug          TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    purpose       TEXT    NOT NULL, -- assignment | permission
    grantable_to  TEXT    NOT NULL, -- ',user,group,': encoded resource type ids between commas
    data          TEXT    NOT NULL, -- the Entitlement as JSON
    PRIMARY KEY (run_id, resource_type, resource_id, slug)
) WITHOUT ROWID;

-- Grants keyed by principal ("grants by principal"). Page commits write here: a users listing
-- delivers grants grouped by principal, so each commit touches few pages of this tree.
CREATE TABLE IF NOT EXISTS grants_by_principal (
    run_id           INTEGER NOT NULL,
    principal_type   TEXT    NOT NULL,
    principal_id     TEXT    NOT NULL,
    entitlement_type TEXT    NOT NULL,
    entitlement_id   TEXT    NOT NULL,
    slug             TEXT    NOT NULL,
    annotations      TEXT,            -- JSON array, NULL when empty
    PRIMARY KEY (run_id, principal_type, principal_id, entitlement_type, entitlement_id, slug)
) WITHOUT ROWID;

-- The same grants keyed by entitlement ("grants by entitlement"), filled in key order in one
-- transaction when the run is sealed (all pages stored). Empty for a run still syncing.
CREATE TABLE IF NOT EXISTS grants (
    run_id           INTEGER NOT NULL,
    entitlement_type TEXT    NOT NULL,
    entitlement_id   TEXT    NOT NULL,
    slug             TEXT    NOT NULL,
    principal_type   TEXT    NOT NULL,
    principal_id     TEXT    NOT NULL,
    annotations      TEXT,            -- JSON array, NULL when empty
    PRIMARY KEY (run_id, entitlement_type, entitlement_id, slug, principal_type, principal_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS warnings (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL,
    message TEXT    NOT NULL
);

-- The engine's pending work: one row per page still to fetch. Rows are deleted in the transaction
-- that stores the page's data.
CREATE TABLE IF NOT EXISTS work (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL,
    stage         INTEGER NOT NULL, -- 1 resources, 2 entitlements, 3 grants
    kind          TEXT    NOT NULL, -- resources | entitlements | grants
    resource_type TEXT    NOT NULL, -- the syncer's resource type
    scope         TEXT,             -- parent (resources) or resource (others), string form
    token         TEXT,             -- NULL for a first page
    claimed       INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS work_by_stage ON work (run_id, stage, claimed, id);

-- Every page token handed out, per listing: a repeat is a paging bug, reported instead of looped.
CREATE TABLE IF NOT EXISTS page_tokens (
    run_id        INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    resource_type TEXT    NOT NULL,
    scope         TEXT    NOT NULL, -- '' for a top-level listing
    token         TEXT    NOT NULL,
    PRIMARY KEY (run_id, kind, resource_type, scope, token)
) WITHOUT ROWID;

-- The write-ahead journal of multi-request writes (connector_sdk::journal): one row per intent,
-- recorded before the write's first request and closed after its verifying read (or its
-- repair). Open rows are what a restart repairs; closed rows are dropped after 7 days.
CREATE TABLE IF NOT EXISTS write_intents (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    connector      TEXT    NOT NULL,
    fingerprint    TEXT    NOT NULL, -- the tenant the write went to
    principal      TEXT    NOT NULL, -- ResourceId, `type:id`
    entitlement    TEXT    NOT NULL, -- EntitlementId, `type:id:slug`
    operation      TEXT    NOT NULL, -- 'grant' | 'revoke'
    attribute      TEXT    NOT NULL, -- the list the write rewrites, as the connector names it
    before         TEXT    NOT NULL, -- JSON array of ResourceIds the list held before
    actor          TEXT,
    holder         TEXT    NOT NULL, -- the writing process: Holder as JSON
    started_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER,          -- NULL while open
    resolution     TEXT              -- 'completed', or what a repair restored
);
CREATE INDEX IF NOT EXISTS write_intents_open ON write_intents (connector, finished_at_ms);

-- What a connector learned of a tenant for the next process to start from (the rate an
-- upstream grants), one row per connector and tenant, replaced after each sync.
CREATE TABLE IF NOT EXISTS learned (
    connector   TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    value       TEXT    NOT NULL, -- the connector's own text (Coupa: JSON of the learned rate)
    at_ms       INTEGER NOT NULL,
    PRIMARY KEY (connector, fingerprint)
) WITHOUT ROWID;
