//! Account creation: `POST /api/users` from a declared schema.

use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    AccountManager, Arguments, ConnectorError, CreateAccountOutcome, CreateAccountRequest,
    FieldKind, FieldSpec,
};
use coupa_client::{CodeRef, LoginRef};
use coupa_client::{CoupaClient, License, NewUser, User};

use super::WriteError;
use crate::errors::to_connector;
use crate::session::Session;
use crate::sync::{user_fields, user_resource};

pub(crate) struct Accounts {
    pub(crate) session: Arc<Session>,
}

/// Which attribute a search is by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Login,
    Email,
}

impl By {
    fn key(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Email => "email",
        }
    }

    fn of(self, user: &User) -> Option<&str> {
        match self {
            Self::Login => user.login.as_deref(),
            Self::Email => user.email.as_deref(),
        }
    }
}

/// The user whose `by` is `value` (case-insensitive), by a filtered search. Only a matching row
/// counts; a row that does not match means the server ignored the filter, and then no answer of
/// this search can be trusted: [`WriteError::UntrustedSearch`].
async fn find(client: &CoupaClient, by: By, value: &str) -> Result<Option<User>, ConnectorError> {
    let query = match by {
        By::Login => client.users().login(value),
        By::Email => client.users().email(value),
    };
    let rows = query
        .fields(user_fields(false, false))
        .limit(1)
        .page()
        .await
        .map_err(to_connector)?;
    let wanted = value.to_lowercase();
    match rows.into_iter().next() {
        None => Ok(None),
        Some(row) if by.of(&row).map(str::to_lowercase).as_deref() == Some(wanted.as_str()) => {
            Ok(Some(row))
        }
        Some(row) => {
            let error = WriteError::UntrustedSearch {
                key: by.key().to_owned(),
                value: value.to_owned(),
                got: row.id,
                found: by.of(&row).map(str::to_owned),
            };
            Err(ConnectorError::fatal_with(error.to_string(), error))
        }
    }
}

/// The existing user with this login. A user with this email and another login is a conflict,
/// never "already exists": reporting it would link the new identity to someone else's account.
async fn existing(
    client: &CoupaClient,
    login: &str,
    email: &str,
) -> Result<Option<User>, ConnectorError> {
    if let Some(user) = find(client, By::Login, login).await? {
        return Ok(Some(user));
    }
    match find(client, By::Email, email).await? {
        None => Ok(None),
        Some(other) => {
            let error = WriteError::EmailTaken {
                email: email.to_owned(),
                login: login.to_owned(),
                user: other.id,
                user_login: other.login.clone(),
            };
            Err(ConnectorError::conflict(error.to_string()).with_source(error))
        }
    }
}

/// `user` when it carries the requested login; otherwise the reason it does not confirm the
/// creation.
fn with_login(user: User, login: &str) -> Result<User, String> {
    match user.login.as_deref() {
        Some(found) if found.to_lowercase() == login.to_lowercase() => Ok(user),
        Some(found) => Err(format!("user {} has the login {found:?}", user.id)),
        None => Err(format!("user {} has no login in the answer", user.id)),
    }
}

/// A creation's outcome: confirmed only by a user that carries the requested login, read back
/// when the create's answer does not show it.
async fn confirm(
    client: &CoupaClient,
    login: &str,
    answer: User,
) -> Result<CreateAccountOutcome, ConnectorError> {
    let reason = match with_login(answer, login) {
        Ok(user) => return Ok(CreateAccountOutcome::Created(user_resource(&user))),
        Err(reason) => reason,
    };
    match find(client, By::Login, login).await? {
        Some(user) => Ok(CreateAccountOutcome::Created(user_resource(&user))),
        None => Err(not_created(
            login,
            format!("the create answered with {reason}"),
        )),
    }
}

fn not_created(login: &str, reason: String) -> ConnectorError {
    let error = WriteError::NotCreated {
        login: login.to_owned(),
        reason,
    };
    ConnectorError::fatal_with(error.to_string(), error)
}

fn new_user(fields: &Arguments) -> Result<NewUser, ConnectorError> {
    let text = |name: &str| fields.str(name).map(str::to_owned);
    let required = |name: &str| {
        text(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ConnectorError::from(fields.invalid(name, "must not be empty")))
    };
    let mut user = NewUser::new(
        required("login")?,
        required("email")?,
        required("first_name")?,
        required("last_name")?,
    );
    user.employee_number = text("employee_number");
    user.sso_identifier = text("sso_identifier");
    user.authentication_method = text("authentication_method");
    user.default_locale = text("default_locale");
    user.manager = text("manager_login").map(|login| LoginRef { login });
    user.default_currency = text("default_currency").map(|code| CodeRef { code });
    for key in fields.str_list("licenses").unwrap_or_default() {
        let license = License::from_key(key)
            .filter(|l| License::ALL.contains(l))
            .ok_or_else(|| {
                ConnectorError::from(
                    fields.invalid("licenses", format!("`{key}` is not a Coupa license flag")),
                )
            })?;
        user.licenses.insert(license, true);
    }
    Ok(user)
}

#[async_trait]
impl AccountManager for Accounts {
    fn schema(&self) -> Vec<FieldSpec> {
        let optional = |name: &str, description: &str| {
            FieldSpec::optional(name, FieldKind::String, description)
        };
        vec![
            FieldSpec::required("login", FieldKind::String, "Login (unique)"),
            FieldSpec::required("email", FieldKind::String, "Email address (unique)"),
            FieldSpec::required(
                "first_name",
                FieldKind::String,
                "First name (at most 40 characters)",
            ),
            FieldSpec::required(
                "last_name",
                FieldKind::String,
                "Last name (at most 40 characters)",
            ),
            optional("employee_number", "Employee number (unique)"),
            optional("sso_identifier", "SSO identifier"),
            optional("authentication_method", "coupa_credentials, ldap or saml"),
            optional("default_locale", "Default locale, such as en"),
            optional("manager_login", "The manager's login"),
            optional("default_currency", "Default currency code, such as USD"),
            FieldSpec::optional(
                "licenses",
                FieldKind::StringList,
                "License flags to grant, such as [\"expense-user\"]",
            ),
        ]
    }

    async fn create_account(
        &self,
        request: CreateAccountRequest,
    ) -> Result<CreateAccountOutcome, ConnectorError> {
        let user = new_user(&request.fields)?;
        let client = self.session.writer(false).await?;
        if let Some(found) = existing(client, &user.login, &user.email).await? {
            return Ok(CreateAccountOutcome::AlreadyExists(user_resource(&found)));
        }
        match client.create_user(&user).await {
            Ok(created) => confirm(client, &user.login, created).await,
            Err(coupa_client::Error::Api(api)) if api.status == 400 => {
                // A login or email taken since the check above is "exists", not a failure.
                let taken = api
                    .messages
                    .iter()
                    .any(|m| m.contains("has already been taken"));
                if taken && let Some(found) = existing(client, &user.login, &user.email).await? {
                    return Ok(CreateAccountOutcome::AlreadyExists(user_resource(&found)));
                }
                Err(
                    ConnectorError::invalid_argument("Coupa refused the account")
                        .with_source(coupa_client::Error::Api(api)),
                )
            }
            Err(error) => {
                // The answer may be lost after Coupa created the user: look before failing. Only
                // a user with the requested login counts as created.
                match find(client, By::Login, &user.login).await? {
                    Some(found) => Ok(CreateAccountOutcome::Created(user_resource(&found))),
                    None => Err(to_connector(error)),
                }
            }
        }
    }
}
