//! Account creation: `POST /api/users` from a declared schema.

use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    AccountManager, Arguments, ConnectorError, CreateAccountOutcome, FieldKind, FieldSpec,
};
use coupa_client::{CodeRef, LoginRef};
use coupa_client::{CoupaClient, License, NewUser, User};

use crate::errors::to_connector;
use crate::session::Session;
use crate::sync::{user_fields, user_resource};

pub(crate) struct Accounts {
    pub(crate) session: Arc<Session>,
}

/// The first existing user with this login, or else this email.
async fn existing(
    client: &CoupaClient,
    login: &str,
    email: &str,
) -> Result<Option<User>, ConnectorError> {
    for query in [client.users().login(login), client.users().email(email)] {
        let found = query
            .fields(user_fields(false))
            .limit(1)
            .page()
            .await
            .map_err(to_connector)?;
        if let Some(user) = found.into_iter().next() {
            return Ok(Some(user));
        }
    }
    Ok(None)
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
        fields: Arguments,
    ) -> Result<CreateAccountOutcome, ConnectorError> {
        let user = new_user(&fields)?;
        let client = self.session.writer(false).await?;
        if let Some(found) = existing(client, &user.login, &user.email).await? {
            return Ok(CreateAccountOutcome::AlreadyExists(user_resource(&found)));
        }
        match client.create_user(&user).await {
            Ok(created) => Ok(CreateAccountOutcome::Created(user_resource(&created))),
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
                // The response may be lost after Coupa created the user: look before failing.
                match existing(client, &user.login, &user.email).await? {
                    Some(found) => Ok(CreateAccountOutcome::Created(user_resource(&found))),
                    None => Err(to_connector(error)),
                }
            }
        }
    }
}
