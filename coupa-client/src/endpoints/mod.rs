//! Endpoints: list queries and single-record calls.

mod list;
mod records;

pub use list::{ListQuery, MAX_PAGE_SIZE};
