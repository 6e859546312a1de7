//! A page commit as one statement: the page's rows as columns, and the statement that stores
//! them. The tables a run's grants go to before and after it is sealed.

use std::collections::HashMap;

use super::Backend;
use crate::model::{Entitlement, Resource};
use crate::store::{PageCommit, RunId, StoreError, columns};

/// A page as the columns of one statement ([`commit_sql`]).
pub(super) struct PageColumns<'a> {
    pub(super) token_kinds: Vec<&'static str>,
    pub(super) token_types: Vec<String>,
    pub(super) token_scopes: Vec<String>,
    pub(super) tokens: Vec<String>,
    pub(super) stages: Vec<i64>,
    pub(super) kinds: Vec<&'static str>,
    pub(super) types: Vec<String>,
    pub(super) scopes: Vec<Option<String>>,
    pub(super) work_tokens: Vec<Option<String>>,
    pub(super) resources: [Vec<Option<String>>; 8],
    pub(super) entitlements: [Vec<String>; 7],
    pub(super) grants: [Vec<&'a str>; 5],
    pub(super) annotations: Vec<Option<String>>,
    pub(super) keys: Vec<Vec<u8>>,
}

impl<'a> PageColumns<'a> {
    pub(super) fn new(commit: &'a PageCommit) -> Result<Self, StoreError> {
        let mut page = Self {
            token_kinds: Vec::new(),
            token_types: Vec::new(),
            token_scopes: Vec::new(),
            tokens: Vec::new(),
            stages: Vec::new(),
            kinds: Vec::new(),
            types: Vec::new(),
            scopes: Vec::new(),
            work_tokens: Vec::new(),
            resources: resource_columns(&commit.resources)?,
            entitlements: entitlement_columns(&commit.entitlements)?,
            grants: Default::default(),
            annotations: Vec::with_capacity(commit.grants.len()),
            keys: Vec::with_capacity(commit.grants.len()),
        };
        for item in &commit.work {
            let kind = &item.kind;
            let scope = kind.scope().map(ToString::to_string);
            if let Some(token) = &item.token {
                page.token_kinds.push(kind.tag());
                page.token_types.push(kind.resource_type().to_string());
                page.token_scopes.push(scope.clone().unwrap_or_default());
                page.tokens.push(token.as_str().to_owned());
            }
            page.stages.push(kind.stage().number());
            page.kinds.push(kind.tag());
            page.types.push(kind.resource_type().to_string());
            page.scopes.push(scope);
            page.work_tokens
                .push(item.token.as_ref().map(|t| t.as_str().to_owned()));
        }
        for g in &commit.grants {
            let values = [
                g.entitlement.resource.resource_type.as_str(),
                g.entitlement.resource.id.as_str(),
                g.entitlement.slug.as_str(),
                g.principal.resource_type.as_str(),
                g.principal.id.as_str(),
            ];
            for (column, value) in page.grants.iter_mut().zip(values) {
                column.push(value);
            }
            page.keys
                .push(super::entitlement_key(&g.entitlement, Some(&g.principal)));
            page.annotations.push(if g.annotations.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&g.annotations).backend()?)
            });
        }
        Ok(page)
    }

    /// A token the page hands out twice for the same listing.
    pub(super) fn repeated_token(&self) -> Option<String> {
        let mut seen = std::collections::HashSet::new();
        (0..self.tokens.len())
            .find(|&i| {
                !seen.insert((
                    self.token_kinds[i],
                    &self.token_types[i],
                    &self.token_scopes[i],
                    &self.tokens[i],
                ))
            })
            .map(|i| self.tokens[i].clone())
    }
}

/// The statement that stores one page of `run`: its parameters are [`PageColumns`]'s, after the
/// run (`$1`) and the lease (`$2`); it answers whether the lease held (nothing is written
/// otherwise). A page without grants does not name the run's pending table (a sealed run has
/// none, and the engine may still store warnings).
pub(super) fn commit_sql(run: RunId, grants: bool) -> String {
    let grants = if grants {
        format!(
            "INSERT INTO {} (run_id, entitlement_type, entitlement_id, slug, principal_type,
                 principal_id, annotations, entitlement_key)
             SELECT $1, * FROM UNNEST($27::text[], $28::text[], $29::text[], $30::text[],
                 $31::text[], $32::text[], $35::bytea[])
             WHERE EXISTS (SELECT 1 FROM held)",
            pending_table(run)
        )
    } else {
        "SELECT $27::text[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[],
             $35::bytea[]"
            .to_owned()
    };
    format!(
        "WITH held AS (
             SELECT id FROM sync_runs WHERE id = $1 AND holder::jsonb ->> 'id' = $2 FOR SHARE),
         tokens AS (
             INSERT INTO page_tokens (run_id, kind, resource_type, scope, token)
             SELECT $1, * FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[])
             WHERE EXISTS (SELECT 1 FROM held)),
         work AS (
             INSERT INTO work (run_id, stage, kind, resource_type, scope, token)
             SELECT $1, s, k, t, sc, tk
             FROM UNNEST($7::int8[], $8::text[], $9::text[], $10::text[], $11::text[])
                  WITH ORDINALITY AS w(s, k, t, sc, tk, n)
             WHERE EXISTS (SELECT 1 FROM held) ORDER BY n),
         resources AS (
             INSERT INTO resources (run_id, resource_type, resource_id, parent, display_name,
                 status, login, email, data)
             SELECT $1, * FROM UNNEST($12::text[], $13::text[], $14::text[], $15::text[],
                 $16::text[], $17::text[], $18::text[], $19::text[])
             WHERE EXISTS (SELECT 1 FROM held)
             ON CONFLICT (run_id, resource_type, resource_id) DO UPDATE SET
                 parent = EXCLUDED.parent, display_name = EXCLUDED.display_name,
                 status = EXCLUDED.status, login = EXCLUDED.login, email = EXCLUDED.email,
                 data = EXCLUDED.data),
         entitlements AS (
             INSERT INTO entitlements (run_id, resource_type, resource_id, slug, display_name,
                 purpose, grantable_to, data)
             SELECT $1, * FROM UNNEST($20::text[], $21::text[], $22::text[], $23::text[],
                 $24::text[], $25::text[], $26::text[])
             WHERE EXISTS (SELECT 1 FROM held)
             ON CONFLICT (run_id, resource_type, resource_id, slug) DO UPDATE SET
                 display_name = EXCLUDED.display_name, purpose = EXCLUDED.purpose,
                 grantable_to = EXCLUDED.grantable_to, data = EXCLUDED.data),
         grants AS ({grants}),
         warnings AS (
             INSERT INTO warnings (run_id, message)
             SELECT $1, m FROM UNNEST($33::text[]) WITH ORDINALITY AS w(m, n)
             WHERE EXISTS (SELECT 1 FROM held) ORDER BY n),
         done AS (
             DELETE FROM work WHERE id = $34 AND run_id = $1 AND EXISTS (SELECT 1 FROM held))
         SELECT EXISTS (SELECT 1 FROM held)"
    )
}

/// A page's resources as columns, the last of each id kept (as one `INSERT OR REPLACE` after
/// another would).
fn resource_columns(resources: &[Resource]) -> Result<[Vec<Option<String>>; 8], StoreError> {
    let mut last: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        last.insert((r.id.resource_type.as_str(), r.id.id.as_str()), i);
    }
    let mut columns: [Vec<Option<String>>; 8] = Default::default();
    for (i, r) in resources.iter().enumerate() {
        if last[&(r.id.resource_type.as_str(), r.id.id.as_str())] != i {
            continue;
        }
        let values = [
            Some(r.id.resource_type.to_string()),
            Some(r.id.id.clone()),
            r.parent.as_ref().map(ToString::to_string),
            Some(r.display_name.clone()),
            r.status.map(|s| columns::status(s).to_owned()),
            r.user.as_ref().and_then(|u| u.login.clone()),
            columns::email(r).map(str::to_owned),
            Some(serde_json::to_string(r).backend()?),
        ];
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
    }
    Ok(columns)
}

/// A page's entitlements as columns, the last of each id kept.
fn entitlement_columns(entitlements: &[Entitlement]) -> Result<[Vec<String>; 7], StoreError> {
    let mut last: HashMap<&crate::model::EntitlementId, usize> = HashMap::new();
    for (i, e) in entitlements.iter().enumerate() {
        last.insert(&e.id, i);
    }
    let mut columns: [Vec<String>; 7] = Default::default();
    for (i, e) in entitlements.iter().enumerate() {
        if last[&e.id] != i {
            continue;
        }
        let values = [
            e.id.resource.resource_type.to_string(),
            e.id.resource.id.clone(),
            e.id.slug.clone(),
            e.display_name.clone(),
            columns::purpose(e.purpose).to_owned(),
            columns::grantable_to(e),
            serde_json::to_string(e).backend()?,
        ];
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
    }
    Ok(columns)
}

/// The table a run's grants are appended to until it is sealed.
pub(super) fn pending_table(run: RunId) -> String {
    format!("grants_pending_{}", run.0)
}

/// The partition of `grants` holding a sealed run's grants.
pub(super) fn sealed_table(run: RunId) -> String {
    format!("grants_{}", run.0)
}

/// Creates the pending table of a new run.
pub(super) fn pending_table_ddl(run: RunId) -> String {
    format!(
        "CREATE TABLE {} (LIKE grants INCLUDING DEFAULTS, CHECK (run_id = {}))",
        pending_table(run),
        run.0
    )
}
