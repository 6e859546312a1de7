//! Offset page tokens handed out several at a time, so one listing is fetched by several
//! workers at once.

use std::collections::BTreeMap;
use std::sync::Mutex;

use connector_sdk::{ConnectorError, OffsetLanes, PageToken};

/// Rows per page: Coupa's cap.
pub(crate) const PAGE_SIZE: u32 = coupa_client::MAX_PAGE_SIZE;

/// The offset a token stands for (`None`: the first page).
pub(crate) fn offset(token: Option<&PageToken>) -> Result<u64, ConnectorError> {
    PageToken::parse_offset(token)
}

/// Tokens after the page at `offset` that brought `rows` rows: the SDK's offset lanes over
/// Coupa's 50-row pages.
pub(crate) fn next(offset: u64, rows: usize, parallelism: usize) -> Vec<PageToken> {
    OffsetLanes::new(u64::from(PAGE_SIZE)).next(offset, rows, parallelism)
}

/// The id range each page of a run's offset listings covered. Coupa lists in ascending id
/// order, so pages at higher offsets must hold higher ids: a page whose ids overlap another
/// page's means the server ignored `offset` (or the listing shifted under it), and lanes that
/// keep receiving full pages of ids already seen would never end. That is reported instead.
/// Costs two ids per page fetched.
#[derive(Debug, Default)]
pub(crate) struct OffsetGuard {
    pages: Mutex<BTreeMap<PageKey, IdRange>>,
}

/// A listing and an offset in it.
type PageKey = (&'static str, u64);
/// The first and last id of a page.
type IdRange = (i64, i64);

impl OffsetGuard {
    /// Records the page of `listing` at `offset` holding `ids`; an error when its ids are not
    /// ascending or overlap another page's range in the wrong order.
    pub(crate) fn check(
        &self,
        listing: &'static str,
        offset: u64,
        ids: &[i64],
    ) -> Result<(), ConnectorError> {
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            return Ok(());
        };
        let refuse = |detail: String| {
            Err(ConnectorError::fatal(format!(
                "{listing} at offset {offset}: {detail}; the server does not page by offset in id \
                 order, so the listing cannot be trusted to end"
            )))
        };
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            return refuse("ids are not in ascending order".into());
        }
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        let before = pages.range((listing, 0)..(listing, offset)).next_back();
        if let Some(((_, at), (_, prev_last))) = before
            && *prev_last >= first
        {
            return refuse(format!(
                "id {first} is not above id {prev_last} already listed at offset {at}"
            ));
        }
        let after = pages
            .range((listing, offset + 1)..=(listing, u64::MAX))
            .next();
        if let Some(((_, at), (next_first, _))) = after
            && *next_first <= last
        {
            return refuse(format!(
                "id {last} is not below id {next_first} already listed at offset {at}"
            ));
        }
        pages.insert((listing, offset), (first, last));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn the_guard_refuses_pages_that_repeat_or_reorder_ids() {
        let guard = OffsetGuard::default();
        guard.check("users", 0, &[1, 2, 3]).unwrap();
        guard.check("users", 100, &[7, 8]).unwrap();
        guard.check("users", 50, &[4, 6]).unwrap();
        guard.check("groups", 0, &[1, 2]).unwrap();
        let same_again = guard.check("users", 150, &[1, 2, 3]).unwrap_err();
        assert_eq!(
            same_again.to_string(),
            "users at offset 150: id 1 is not above id 8 already listed at offset 100; the \
             server does not page by offset in id order, so the listing cannot be trusted to end"
        );
        assert!(guard.check("users", 25, &[3, 4]).is_err());
        assert!(guard.check("users", 200, &[9, 9]).is_err());
        guard.check("users", 200, &[]).unwrap();
    }
}
