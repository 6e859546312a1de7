//! Offset page tokens handed out several at a time, so one listing is fetched by several
//! workers at once.

use std::collections::BTreeMap;
use std::sync::Mutex;

use connector_sdk::{ConnectorError, PageToken};

/// Rows per page: Coupa's cap.
pub(crate) const PAGE_SIZE: u32 = coupa_client::MAX_PAGE_SIZE;

/// The offset a token stands for (`None`: the first page).
pub(crate) fn offset(token: Option<&PageToken>) -> Result<u64, ConnectorError> {
    token.map_or(Ok(0), |t| {
        t.as_str().parse().map_err(|_| {
            ConnectorError::InvalidArgument(format!("bad page token {:?}", t.as_str()))
        })
    })
}

/// Tokens after the page at `offset` that brought `rows` rows. The first page hands out one
/// lane per worker (offsets 50, 100, … 50·W); every later full page hands out the next page of
/// its own lane (offset + 50·W). A short page ends its lane, so at most one page per lane is
/// fetched past the end.
pub(crate) fn next(offset: u64, rows: usize, parallelism: usize) -> Vec<PageToken> {
    if rows < PAGE_SIZE as usize {
        return Vec::new();
    }
    let lanes = parallelism.max(1) as u64;
    let page = u64::from(PAGE_SIZE);
    if offset == 0 {
        (1..=lanes)
            .map(|k| PageToken::new((k * page).to_string()))
            .collect()
    } else {
        vec![PageToken::new((offset + lanes * page).to_string())]
    }
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
    use proptest::prelude::*;

    /// Runs the lanes over a list of `total` rows; returns every offset fetched, sorted.
    fn walk(total: u64, lanes: usize) -> Vec<u64> {
        let mut queue = vec![0u64];
        let mut fetched = Vec::new();
        while let Some(o) = queue.pop() {
            fetched.push(o);
            let rows = total.saturating_sub(o).min(u64::from(PAGE_SIZE)) as usize;
            queue.extend(
                next(o, rows, lanes)
                    .iter()
                    .map(|t| t.as_str().parse::<u64>().unwrap()),
            );
        }
        fetched.sort();
        fetched
    }

    proptest! {
        #[test]
        fn every_page_is_fetched_once_and_the_overshoot_is_below_the_lanes(
            total in 0u64..5_000,
            lanes in 1usize..20,
        ) {
            let fetched = walk(total, lanes);
            let needed = total / u64::from(PAGE_SIZE) + 1;
            let mut dedup = fetched.clone();
            dedup.dedup();
            prop_assert_eq!(&dedup, &fetched, "no offset twice");
            for k in 0..needed {
                prop_assert!(fetched.contains(&(k * u64::from(PAGE_SIZE))), "page {} missing", k);
            }
            prop_assert!((fetched.len() as u64) < needed + lanes as u64, "{} pages for {} rows", fetched.len(), total);
        }
    }

    fn texts(tokens: Vec<PageToken>) -> Vec<String> {
        tokens.iter().map(|t| t.as_str().to_owned()).collect()
    }

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

    #[test]
    fn lanes_cover_every_offset_once() {
        assert_eq!(texts(next(0, 50, 3)), ["50", "100", "150"]);
        assert_eq!(texts(next(100, 50, 3)), ["250"]);
        assert!(next(150, 49, 3).is_empty());
        assert_eq!(texts(next(0, 50, 1)), ["50"]);
        assert_eq!(texts(next(50, 50, 1)), ["100"]);
        // Simulate 7 full pages then a short one, 3 lanes: every offset once, in lanes.
        let total_rows = 7 * 50 + 10;
        let mut queue = vec![0u64];
        let mut fetched = Vec::new();
        while let Some(o) = queue.pop() {
            fetched.push(o);
            let rows = (total_rows as u64).saturating_sub(o).min(50) as usize;
            queue.extend(
                next(o, rows, 3)
                    .iter()
                    .map(|t| t.as_str().parse::<u64>().unwrap()),
            );
        }
        fetched.sort();
        assert_eq!(fetched, [0, 50, 100, 150, 200, 250, 300, 350, 400, 450]);
        assert!(offset(Some(&PageToken::new("x"))).is_err());
    }
}
