//! The one place that holds the write discipline: read projected, decide, write, verify by a
//! projected read, and on a failed write re-read to tell "applied" from "not applied".

use std::collections::BTreeSet;
use std::fmt::Debug;

use connector_sdk::ConnectorError;
use coupa_client::{AccessList, CoupaClient, Fields, License, User, UserUpdate};

use super::WriteError;
use crate::errors::to_connector;

/// How many times a value is written while another writer keeps undoing it.
pub(crate) const ROUNDS: u32 = 3;

/// One attribute of a user that a write changes: how to project it, read it and write it.
pub(crate) trait Attribute: Send + Sync + 'static {
    /// The attribute's value.
    type Value: Clone + Eq + Debug + Send + Sync + 'static;
    /// The JSON key.
    fn key(&self) -> &str;
    /// The projection that carries the attribute.
    fn fields(&self) -> Fields;
    /// The value in a record, `None` when the record lacks the key.
    fn get(&self, user: &User) -> Option<Self::Value>;
    /// The update that writes `value`.
    fn update(&self, value: &Self::Value) -> UserUpdate;
    /// The value for people.
    fn show(&self, value: &Self::Value) -> String;
    /// A likely reason for the key being absent, with a leading separator.
    fn missing_hint(&self) -> String {
        String::new()
    }
}

/// An access list as a set of ids.
#[derive(Debug, Clone, Copy)]
pub(crate) struct List(pub(crate) AccessList);

impl Attribute for List {
    type Value = BTreeSet<i64>;

    fn key(&self) -> &str {
        self.0.key()
    }

    fn fields(&self) -> Fields {
        Fields::of(["id"]).nested(self.0.key(), Fields::of(["id"]))
    }

    fn get(&self, user: &User) -> Option<BTreeSet<i64>> {
        user.list(self.0).map(|l| l.iter().map(|r| r.id).collect())
    }

    fn update(&self, ids: &BTreeSet<i64>) -> UserUpdate {
        UserUpdate::new().list(self.0, ids.iter().copied())
    }

    fn show(&self, ids: &BTreeSet<i64>) -> String {
        let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
        format!("[{}]", list.join(", "))
    }

    fn missing_hint(&self) -> String {
        match self.0 {
            AccessList::AccountGroups => format!(
                " (the token may lack `{}`)",
                coupa_client::scopes::ACCOUNTING_READ
            ),
            _ => String::new(),
        }
    }
}

/// A license flag.
#[derive(Debug, Clone)]
pub(crate) struct Flag(pub(crate) License);

impl Attribute for Flag {
    type Value = bool;

    fn key(&self) -> &str {
        self.0.key()
    }

    fn fields(&self) -> Fields {
        Fields::of(["id", self.0.key()])
    }

    fn get(&self, user: &User) -> Option<bool> {
        user.license(&self.0)
    }

    fn update(&self, held: &bool) -> UserUpdate {
        UserUpdate::new().license(self.0.clone(), *held)
    }

    fn show(&self, held: &bool) -> String {
        held.to_string()
    }
}

/// The `active` flag.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Active;

impl Attribute for Active {
    type Value = bool;

    fn key(&self) -> &str {
        "active"
    }

    fn fields(&self) -> Fields {
        Fields::of(["id", "active"])
    }

    fn get(&self, user: &User) -> Option<bool> {
        user.active
    }

    fn update(&self, active: &bool) -> UserUpdate {
        UserUpdate::new().active(*active)
    }

    fn show(&self, active: &bool) -> String {
        active.to_string()
    }
}

/// What a converge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Converged<V> {
    /// The goal held already; nothing was written.
    Already,
    /// Written and verified by a projected read.
    Changed,
    /// Coupa answered the write with a value that misses the goal (an unknown id dropped, a
    /// flag refused, a list that only grows).
    NotApplied {
        /// What was written.
        intended: V,
        /// What Coupa answered.
        answer: V,
    },
}

/// One user's attribute, read and written through one client.
#[derive(Debug, Clone)]
pub(crate) struct Target<A> {
    pub(crate) client: CoupaClient,
    pub(crate) user: i64,
    pub(crate) attribute: A,
}

impl<A: Attribute> Target<A> {
    fn missing(&self) -> ConnectorError {
        let error = WriteError::MissingKey {
            user: self.user,
            key: self.attribute.key().to_owned(),
            hint: self.attribute.missing_hint(),
        };
        ConnectorError::fatal_with(error.to_string(), error)
    }

    /// The value, by a projected read. A record without the key is an error.
    pub(crate) async fn read(&self) -> Result<A::Value, ConnectorError> {
        let record = self
            .client
            .get_user(self.user, Some(&self.attribute.fields()))
            .await
            .map_err(to_connector)?;
        self.attribute.get(&record).ok_or_else(|| self.missing())
    }

    /// Writes `value` with a projected answer; the value the answer carries, `None` when it
    /// lacks the key.
    pub(crate) async fn put(
        &self,
        value: &A::Value,
    ) -> Result<Option<A::Value>, coupa_client::Error> {
        let record = self
            .client
            .update_user(
                self.user,
                &self.attribute.update(value),
                Some(&self.attribute.fields()),
            )
            .await?;
        Ok(self.attribute.get(&record))
    }

    /// The attribute's JSON key.
    pub(crate) fn key(&self) -> &str {
        self.attribute.key()
    }

    /// The value for people.
    pub(crate) fn show(&self, value: &A::Value) -> String {
        self.attribute.show(value)
    }

    /// Brings the value to `goal`: reads it (projected), and unless the goal holds writes
    /// `intend(current)`. The answer (or, when it lacks the key, a projected re-read) decides
    /// whether Coupa applied it; a projected read then verifies that no other writer undid it,
    /// and if one did, the value is decided and written again, at most [`ROUNDS`] times. A write
    /// that fails is followed by a re-read: if the goal holds it was applied and its answer lost;
    /// otherwise the write's error is returned.
    pub(crate) async fn converge(
        &self,
        goal: impl Fn(&A::Value) -> bool,
        intend: impl Fn(&A::Value) -> A::Value,
    ) -> Result<Converged<A::Value>, ConnectorError> {
        let mut current = self.read().await?;
        if goal(&current) {
            return Ok(Converged::Already);
        }
        for _ in 0..ROUNDS {
            let intended = intend(&current);
            let (answer, verified) = match self.put(&intended).await {
                Ok(Some(answer)) => (answer, false),
                Ok(None) => (self.read().await?, true),
                Err(error) => {
                    let now = self.read().await?;
                    if !goal(&now) {
                        return Err(to_connector(error));
                    }
                    tracing::warn!(
                        user = self.user,
                        key = self.attribute.key(),
                        "write applied though its answer failed"
                    );
                    (now, true)
                }
            };
            if !goal(&answer) {
                return Ok(Converged::NotApplied { intended, answer });
            }
            let now = if verified { answer } else { self.read().await? };
            if goal(&now) {
                return Ok(Converged::Changed);
            }
            tracing::warn!(
                user = self.user,
                key = self.attribute.key(),
                now = self.attribute.show(&now),
                "another writer undid the write; writing again"
            );
            current = now;
        }
        let error = WriteError::Conflict {
            user: self.user,
            key: self.attribute.key().to_owned(),
            rounds: ROUNDS,
            now: self.attribute.show(&current),
        };
        Err(ConnectorError::fatal_with(error.to_string(), error))
    }
}
