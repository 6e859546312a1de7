//! Why a write was refused or did not land, as a type a host can match on.

/// A provisioning failure that is not a plain API error: the connector refused to write, or
/// Coupa's state after the write is not what was intended. Reachable from the SDK error's source
/// chain with `downcast_ref::<WriteError>()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Coupa's answer did not carry a key the write depends on, or carried it as `null`; nothing
    /// was written. Unknown is not empty: treating it as `[]` or `false` would wipe or misreport
    /// the user's access.
    #[error(
        "Coupa's answer for user {user} has no usable `{key}` (absent or null) although it was \
         projected; nothing was written{hint}"
    )]
    MissingKey {
        /// The Coupa user id.
        user: i64,
        /// The JSON key.
        key: String,
        /// A likely cause, with its leading separator, or empty.
        hint: String,
    },
    /// A search by login or email answered a row that does not match it: the server ignored the
    /// filter, so no answer from it can say whether the account exists. Nothing was written.
    #[error(
        "Coupa's search for the user with {key} {value:?} answered user {got}, whose {key} is \
         {}; the search cannot be trusted, so nothing was written",
        found.as_deref().map_or_else(|| "not in the answer".to_owned(), |f| format!("{f:?}"))
    )]
    UntrustedSearch {
        /// `login` or `email`.
        key: String,
        /// The value searched for.
        value: String,
        /// The id of the row that does not match.
        got: i64,
        /// That row's value of `key`, when it carried one.
        found: Option<String>,
    },
    /// An account creation whose email belongs to an existing user with another login: not the
    /// same person as far as anyone can tell, so nothing was created and nothing is reported as
    /// existing.
    #[error(
        "the email {email:?} belongs to Coupa user {user} (login {}), not to the login {login:?}; \
         nothing was created",
        user_login.as_deref().map_or_else(|| "not in the answer".to_owned(), |l| format!("{l:?}"))
    )]
    EmailTaken {
        /// The requested email.
        email: String,
        /// The requested login.
        login: String,
        /// The existing user's id.
        user: i64,
        /// The existing user's login, when the answer carried it.
        user_login: Option<String>,
    },
    /// An account creation whose outcome no read confirms: the create failed or answered with
    /// another user, and no user with the requested login could be read back.
    #[error("Coupa did not confirm the account {login:?}: {reason}")]
    NotCreated {
        /// The requested login.
        login: String,
        /// What was seen instead.
        reason: String,
    },
    /// Coupa answered the write without applying it.
    #[error("Coupa did not apply {intended} to user {user}'s `{key}`: it reads {now}")]
    NotApplied {
        /// The Coupa user id.
        user: i64,
        /// The JSON key.
        key: String,
        /// The value written.
        intended: String,
        /// The value as Coupa answered.
        now: String,
    },
    /// Another writer changed the value after each of our writes, until the rounds ran out.
    #[error(
        "user {user}'s `{key}` was changed by another writer after each of {rounds} writes; \
         it reads {now}"
    )]
    Conflict {
        /// The Coupa user id.
        user: i64,
        /// The JSON key.
        key: String,
        /// How many times the value was written.
        rounds: u32,
        /// The value as last read.
        now: String,
    },
    /// A two-step removal (clear, then set) failed part way. `now` is the list the user is left
    /// with, or `None` when it could not be read (it may be empty).
    #[error(
        "removing from user {user}'s `{key}` failed ({reason}); {}",
        match (restored, now) {
            (true, Some(now)) => format!("the original list was restored: it reads {now}"),
            (false, Some(now)) => format!("restoring {before} failed: the user is left with {now}"),
            (true, None) => format!(
                "restoring {before} was answered but the list could not be read back: the user \
                 may be left with no entries"
            ),
            (false, None) => format!(
                "restoring {before} failed and the list could not be read: the user may be left \
                 with no entries"
            ),
        }
    )]
    PartialRemoval {
        /// The Coupa user id.
        user: i64,
        /// The JSON key.
        key: String,
        /// What went wrong.
        reason: String,
        /// The list before the removal.
        before: String,
        /// Whether the restoring write succeeded.
        restored: bool,
        /// The list as last read, when it could be read.
        now: Option<String>,
    },
}
