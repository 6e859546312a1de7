//! Paging, written once: tokens that hold an offset or a keyset cursor, the lanes that let
//! several workers fetch one offset listing at once, and offset pages over rows in memory.

use super::{Page, PageToken};
use crate::error::ConnectorError;

impl PageToken {
    /// The token of the page at `offset`.
    pub fn offset(offset: u64) -> Self {
        Self::new(offset.to_string())
    }

    /// The offset a token made by [`PageToken::offset`] holds; `None` (the first page) is 0. A
    /// token that holds no offset is an invalid-argument error, not a silent restart.
    pub fn parse_offset(token: Option<&PageToken>) -> Result<u64, ConnectorError> {
        token.map_or(Ok(0), |t| {
            t.as_str().parse().map_err(|_| {
                ConnectorError::invalid_argument(format!(
                    "page token {:?} is not an offset",
                    t.as_str()
                ))
            })
        })
    }

    /// The token of the page after the row whose key is `last` (keyset paging: `id > last`).
    pub fn keyset(last: impl std::fmt::Display) -> Self {
        Self::new(last.to_string())
    }

    /// The key a token made by [`PageToken::keyset`] holds; `None` (the first page) is `None`. A
    /// token whose text does not parse as `K` is an invalid-argument error.
    pub fn parse_keyset<K: std::str::FromStr>(
        token: Option<&PageToken>,
    ) -> Result<Option<K>, ConnectorError> {
        token
            .map(|t| {
                t.as_str().parse().map_err(|_| {
                    ConnectorError::invalid_argument(format!(
                        "page token {:?} is not a key",
                        t.as_str()
                    ))
                })
            })
            .transpose()
    }
}

impl<T> Page<T> {
    /// The page of `all` (rows already in memory: a file, a full export) that `token` points at,
    /// `size` rows turned into items by `item`, with the next page's token when rows are left.
    /// A token that holds no offset is an error, as in [`PageToken::parse_offset`].
    pub fn from_offset<R>(
        all: &[R],
        token: Option<&PageToken>,
        size: usize,
        item: impl FnMut(&R) -> T,
    ) -> Result<Self, ConnectorError> {
        let start = usize::try_from(PageToken::parse_offset(token)?).unwrap_or(usize::MAX);
        let end = start.saturating_add(size.max(1));
        let rows = all.get(start..end.min(all.len())).unwrap_or_default();
        let page = Page::new(rows.iter().map(item).collect());
        Ok(if end < all.len() {
            page.with_next(PageToken::offset(end as u64))
        } else {
            page
        })
    }
}

/// Plans offset lanes for a listing of `page_size` rows per page: the first page hands out one
/// token per lane (offsets `size`, `2·size`, … `lanes·size`), each later full page the next page
/// of its own lane (`offset + lanes·size`), and a short page ends its lane. So a listing is
/// fetched by `parallelism` workers at once, each page once, with at most one page per lane
/// fetched past the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetLanes {
    page_size: u64,
}

impl OffsetLanes {
    /// Lanes over pages of `page_size` rows (at least 1).
    pub fn new(page_size: u64) -> Self {
        Self {
            page_size: page_size.max(1),
        }
    }

    /// The tokens to hand out after the page at `offset` brought `rows` rows, with `parallelism`
    /// lanes (at least 1).
    pub fn next(&self, offset: u64, rows: usize, parallelism: usize) -> Vec<PageToken> {
        if (rows as u64) < self.page_size {
            return Vec::new();
        }
        let lanes = parallelism.max(1) as u64;
        if offset == 0 {
            (1..=lanes)
                .map(|k| PageToken::offset(k.saturating_mul(self.page_size)))
                .collect()
        } else {
            let step = lanes.saturating_mul(self.page_size);
            vec![PageToken::offset(offset.saturating_add(step))]
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Runs the lanes over a list of `total` rows; every offset fetched, sorted.
    fn walk(total: u64, size: u64, lanes: usize) -> Vec<u64> {
        let planner = OffsetLanes::new(size);
        let mut queue = vec![0u64];
        let mut fetched = Vec::new();
        while let Some(o) = queue.pop() {
            fetched.push(o);
            let rows = total.saturating_sub(o).min(size) as usize;
            for token in planner.next(o, rows, lanes) {
                queue.push(PageToken::parse_offset(Some(&token)).unwrap());
            }
        }
        fetched.sort();
        fetched
    }

    #[test]
    fn keyset_tokens_round_trip_and_refuse_other_text() {
        assert_eq!(PageToken::parse_keyset::<i64>(None).unwrap(), None);
        let token = PageToken::keyset(42);
        assert_eq!(
            PageToken::parse_keyset::<i64>(Some(&token)).unwrap(),
            Some(42)
        );
        let err = PageToken::parse_keyset::<i64>(Some(&PageToken::new("x"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument: page token \"x\" is not a key"
        );
    }

    #[test]
    fn pages_in_memory_rows_by_offset() {
        let rows: Vec<u32> = (0..5).collect();
        let first = Page::from_offset(&rows, None, 2, |r| r * 10).unwrap();
        assert_eq!(
            (first.items, first.next.clone()),
            (vec![0, 10], vec![PageToken::offset(2)])
        );
        let last = Page::from_offset(&rows, Some(&PageToken::offset(4)), 2, |r| *r).unwrap();
        assert_eq!((last.items, last.next), (vec![4], vec![]));
        let past = Page::from_offset(&rows, Some(&PageToken::offset(u64::MAX)), 2, |r| *r).unwrap();
        assert!(past.items.is_empty() && past.next.is_empty());
        let exact = Page::from_offset(&rows[..4], Some(&PageToken::offset(2)), 2, |r| *r).unwrap();
        assert!(exact.next.is_empty(), "no token past the last row");
        assert!(Page::from_offset(&rows, Some(&PageToken::new("x")), 2, |r| *r).is_err());
    }

    proptest! {
        #[test]
        fn every_page_once_and_at_most_one_past_the_end_per_lane(
            total in 0u64..5_000,
            size in 1u64..80,
            lanes in 1usize..20,
        ) {
            let fetched = walk(total, size, lanes);
            let needed = total / size + 1;
            let mut unique = fetched.clone();
            unique.dedup();
            prop_assert_eq!(&unique, &fetched, "no offset twice");
            for k in 0..needed {
                prop_assert!(fetched.contains(&(k * size)), "page {} missing", k);
            }
            prop_assert!((fetched.len() as u64) < needed + lanes as u64);
        }
    }

    #[test]
    fn tokens_hold_offsets() {
        let planner = OffsetLanes::new(50);
        let texts = |tokens: Vec<PageToken>| -> Vec<String> {
            tokens.iter().map(|t| t.as_str().to_owned()).collect()
        };
        assert_eq!(texts(planner.next(0, 50, 3)), ["50", "100", "150"]);
        assert_eq!(texts(planner.next(100, 50, 3)), ["250"]);
        assert!(planner.next(150, 49, 3).is_empty());
        assert_eq!(PageToken::parse_offset(None).unwrap(), 0);
        assert!(PageToken::parse_offset(Some(&PageToken::new("x"))).is_err());
    }
}
