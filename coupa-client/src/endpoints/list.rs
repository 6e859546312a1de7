//! Typed list queries and their pagination.

use std::marker::PhantomData;

use futures::Stream;
use serde::de::DeserializeOwned;

use crate::client::CoupaClient;
use crate::decode::decode;
use crate::error::Error;
use crate::fields::Fields;
use crate::models::Record;
use crate::transport::Request;

/// Coupa's page cap: at most 50 rows per GET, whatever `limit` asks.
pub const MAX_PAGE_SIZE: u32 = 50;

/// A list query: filters, projection, page size, and where to start. Build one from a
/// [`CoupaClient`] method such as [`CoupaClient::users`], then fetch one page with
/// [`ListQuery::page`] or stream every page with [`ListQuery::pages`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ListQuery<T> {
    client: CoupaClient,
    path: &'static str,
    scope: &'static str,
    filters: Vec<(String, String)>,
    fields: Option<Fields>,
    limit: u32,
    offset: Option<u64>,
    after_id: Option<i64>,
    record: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Record + Send + 'static> ListQuery<T> {
    pub(crate) fn new(client: CoupaClient, path: &'static str, scope: &'static str) -> Self {
        Self {
            client,
            path,
            scope,
            filters: Vec::new(),
            fields: None,
            limit: MAX_PAGE_SIZE,
            offset: None,
            after_id: None,
            record: PhantomData,
        }
    }

    /// Adds a filter `name=value`. Names use Coupa's bracket syntax: `login`, `id[gt]`,
    /// `updated_at[gt]`, `roles[id]`.
    pub fn filter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.filters.push((name.into(), value.into()));
        self
    }

    /// Projects the listed fields only.
    pub fn fields(mut self, fields: Fields) -> Self {
        self.fields = Some(fields);
        self
    }

    /// Rows per page, 1 to 50 (Coupa never returns more than 50).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// Starts at row `offset` and pages by offset.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Starts after record `id` (`id[gt]=id`) and pages by id (keyset), the default.
    pub fn after_id(mut self, id: i64) -> Self {
        self.after_id = Some(id);
        self
    }

    /// Records updated after `timestamp` (ISO 8601 with offset, such as
    /// `2024-01-01T00:00:00+00:00`).
    pub fn updated_after(self, timestamp: impl Into<String>) -> Self {
        self.filter("updated_at[gt]", timestamp)
    }

    /// The page size in use.
    pub fn page_size(&self) -> u32 {
        self.limit
    }

    fn request(&self, offset: Option<u64>, after_id: Option<i64>) -> Request {
        let mut request = Request::get(self.path, self.scope);
        request.query = self.filters.clone();
        if let Some(id) = after_id {
            request.query.push(("id[gt]".into(), id.to_string()));
        }
        request.query.push(("limit".into(), self.limit.to_string()));
        if let Some(offset) = offset {
            request.query.push(("offset".into(), offset.to_string()));
        }
        if let Some(fields) = &self.fields {
            request.query.push(("fields".into(), fields.to_json()));
        }
        request
    }

    /// Fetches one page at the configured offset or id.
    pub async fn page(&self) -> Result<Vec<T>, Error> {
        self.fetch(self.offset, self.after_id).await
    }

    async fn fetch(&self, offset: Option<u64>, after_id: Option<i64>) -> Result<Vec<T>, Error> {
        let request = self.request(offset, after_id);
        let body = self.client.inner.send(&request).await?;
        decode(&format!("/{}", self.path), &body)
    }

    /// Every page, in order. Pages by id (`id[gt]`) unless [`ListQuery::offset`] was set. The
    /// stream stops after a short page, after the first error, and with
    /// [`Error::Pagination`] if the cursor does not move.
    pub fn pages(self) -> impl Stream<Item = Result<Vec<T>, Error>> + Send + 'static {
        enum Cursor {
            Offset(u64),
            After(Option<i64>),
            Done,
        }
        let start = match self.offset {
            Some(offset) => Cursor::Offset(offset),
            None => Cursor::After(self.after_id),
        };
        futures::stream::try_unfold((self, start), |(query, cursor)| async move {
            let (rows, next) = match cursor {
                Cursor::Done => return Ok(None),
                Cursor::Offset(offset) => {
                    let rows = query.fetch(Some(offset), None).await?;
                    let next = Cursor::Offset(offset + rows.len() as u64);
                    (rows, next)
                }
                Cursor::After(after) => {
                    let rows = query.fetch(None, after).await?;
                    let next = match rows.last().map(Record::id) {
                        Some(last) if after.is_some_and(|a| last <= a) => {
                            return Err(Error::Pagination {
                                path: format!("/{}", query.path),
                                cursor: format!("id {}", after.unwrap_or_default()),
                            });
                        }
                        last => Cursor::After(last),
                    };
                    (rows, next)
                }
            };
            if rows.is_empty() {
                return Ok(None);
            }
            let next = if rows.len() < query.limit as usize {
                Cursor::Done
            } else {
                next
            };
            Ok(Some((rows, (query, next))))
        })
    }
}

impl ListQuery<crate::models::User> {
    /// Only active (`true`) or inactive users: the documented `status=active` /
    /// `status=inactive` filter.
    pub fn active(self, active: bool) -> Self {
        self.filter("status", if active { "active" } else { "inactive" })
    }

    /// The user with this login.
    pub fn login(self, login: impl Into<String>) -> Self {
        self.filter("login", login)
    }

    /// The user with this email.
    pub fn email(self, email: impl Into<String>) -> Self {
        self.filter("email", email)
    }
}
