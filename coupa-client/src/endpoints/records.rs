//! Single-record calls: get, create, update.

use bytes::Bytes;
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::client::CoupaClient;
use crate::config::scopes;
use crate::decode::decode;
use crate::error::Error;
use crate::fields::Fields;

use crate::models::{
    AccountGroup, ContentGroup, NewUser, Record, Role, User, UserGroup, UserUpdate,
};
use crate::transport::Request;

/// `record` unless it is about another record than `asked`.
fn same_record<T: Record>(path: String, asked: i64, record: T) -> Result<T, Error> {
    match record.id() {
        got if got == asked => Ok(record),
        got => Err(Error::WrongRecord { path, asked, got }),
    }
}

const USER_READ: &str = "core.user.read";
const USER_WRITE: &str = "core.user.write";
const USER_GROUP_READ: &str = "core.user_group.read";
const COMMON_READ: &str = "core.common.read";

impl CoupaClient {
    /// One record by id; an answer about another record is [`Error::WrongRecord`].
    async fn get_record<T: DeserializeOwned + Record>(
        &self,
        kind: &str,
        id: i64,
        scope: &'static str,
        fields: Option<&Fields>,
    ) -> Result<T, Error> {
        let mut request = Request::get(format!("{kind}/{id}"), scope);
        if let Some(fields) = fields {
            request.query.push(("fields".into(), fields.to_json()));
        }
        let body = self.inner.send(&request).await?;
        let path = format!("/{}", request.path);
        same_record(path.clone(), id, decode(&path, &body)?)
    }

    async fn write_record<T: DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        body: &impl serde::Serialize,
        fields: Option<&Fields>,
    ) -> Result<T, Error> {
        let json = serde_json::to_vec(body).map_err(|source| Error::Encode {
            path: format!("/{path}"),
            source,
        })?;
        let mut request = Request::json(method, path, USER_WRITE, Bytes::from(json));
        if let Some(fields) = fields {
            request.query.push(("fields".into(), fields.to_json()));
        }
        let body = self.inner.send(&request).await?;
        decode(&format!("/{}", request.path), &body)
    }

    /// Users (`GET /api/users`, scope `core.user.read`).
    pub fn users(&self) -> crate::ListQuery<User> {
        crate::ListQuery::new(self.clone(), "api/users", USER_READ)
    }

    /// One user (`GET /api/users/{id}`), optionally projected.
    /// An answer about another user is [`Error::WrongRecord`].
    pub async fn get_user(&self, id: i64, fields: Option<&Fields>) -> Result<User, Error> {
        self.get_record("api/users", id, USER_READ, fields).await
    }

    /// Creates a user (`POST /api/users`, scope `core.user.write`). Validation errors come back
    /// as [`Error::Api`] with status 400 and Coupa's messages. Not retried except on connect
    /// errors.
    pub async fn create_user(&self, user: &NewUser) -> Result<User, Error> {
        self.write_record(Method::POST, "api/users".into(), user, None)
            .await
    }

    /// Updates a user (`PUT /api/users/{id}`, scope `core.user.write`) and returns the record
    /// Coupa sent back, optionally projected with `fields` (Coupa's replacement for
    /// `return_object`; whether every tenant honours it on writes is unconfirmed, so a caller that
    /// needs a key must still check that the answer carries it). Not retried except on connect
    /// errors. An answer about another user is [`Error::WrongRecord`].
    pub async fn update_user(
        &self,
        id: i64,
        update: &UserUpdate,
        fields: Option<&Fields>,
    ) -> Result<User, Error> {
        let path = format!("api/users/{id}");
        let user = self
            .write_record(Method::PUT, path.clone(), update, fields)
            .await?;
        same_record(format!("/{path}"), id, user)
    }

    /// User groups (`GET /api/user_groups`, scope `core.user_group.read`).
    pub fn user_groups(&self) -> crate::ListQuery<UserGroup> {
        crate::ListQuery::new(self.clone(), "api/user_groups", USER_GROUP_READ)
    }

    /// One user group.
    pub async fn get_user_group(&self, id: i64) -> Result<UserGroup, Error> {
        self.get_record("api/user_groups", id, USER_GROUP_READ, None)
            .await
    }

    /// Roles (`GET /api/roles`, scope `core.common.read`). Some tenants may not serve it.
    pub fn roles(&self) -> crate::ListQuery<Role> {
        crate::ListQuery::new(self.clone(), "api/roles", COMMON_READ)
    }

    /// One role.
    pub async fn get_role(&self, id: i64) -> Result<Role, Error> {
        self.get_record("api/roles", id, COMMON_READ, None).await
    }

    /// Account groups (`GET /api/account_groups`, scope `core.accounting.read`).
    pub fn account_groups(&self) -> crate::ListQuery<AccountGroup> {
        crate::ListQuery::new(self.clone(), "api/account_groups", scopes::ACCOUNTING_READ)
    }

    /// One account group.
    pub async fn get_account_group(&self, id: i64) -> Result<AccountGroup, Error> {
        self.get_record("api/account_groups", id, scopes::ACCOUNTING_READ, None)
            .await
    }

    /// Content groups (`GET /api/business_groups`, scope `core.common.read`).
    pub fn content_groups(&self) -> crate::ListQuery<ContentGroup> {
        crate::ListQuery::new(self.clone(), "api/business_groups", COMMON_READ)
    }

    /// One content group.
    pub async fn get_content_group(&self, id: i64) -> Result<ContentGroup, Error> {
        self.get_record("api/business_groups", id, COMMON_READ, None)
            .await
    }
}
