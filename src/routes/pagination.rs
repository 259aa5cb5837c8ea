//! `?limit=&cursor=` → `{"items": […], "next_cursor": null | "…"}` (API.md "Lists").

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::Invalid;
use crate::error::AppError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, AppError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            Some(_) => Err(AppError::invalid_field(
                "limit",
                Invalid::new(
                    "out_of_range",
                    format!("Choose a limit from 1 to {MAX_LIMIT}."),
                ),
            )),
        }
    }
}

/// The cursor of a history step, for lists in time order: time first, the id breaks ties.
pub fn step_cursor(at: chrono::NaiveDateTime, id: &str) -> String {
    format!("{}_{id}", at.format("%Y-%m-%dT%H:%M:%S%.6f"))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Pages a list already sorted by `key` (ids are UUIDv7, so id order is creation order).
    pub fn of(
        items: Vec<T>,
        query: &PageQuery,
        key: impl Fn(&T) -> String,
    ) -> Result<Self, AppError> {
        let limit = query.limit()?;
        let take = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        let rows: Vec<T> = items
            .into_iter()
            .filter(|item| {
                query
                    .cursor
                    .as_deref()
                    .is_none_or(|cursor| key(item).as_str() > cursor)
            })
            .take(take)
            .collect();
        Ok(Page::from_rows(rows, limit, key))
    }

    /// The same page with each item turned into what is shown; the cursor stays.
    pub fn try_map<U, E>(self, show: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(show).collect::<Result<_, _>>()?,
            next_cursor: self.next_cursor,
        })
    }

    /// `rows` were fetched with `limit + 1`: the extra row only says another page exists.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(cursor_of)
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_row_means_a_next_cursor() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(page.items, [1, 2]);
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        let last = Page::from_rows(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(last.next_cursor, None);
    }

    #[test]
    fn limit_must_be_between_1_and_200() {
        assert_eq!(
            PageQuery {
                limit: None,
                cursor: None
            }
            .limit()
            .ok(),
            Some(50)
        );
        assert!(
            PageQuery {
                limit: Some(0),
                cursor: None
            }
            .limit()
            .is_err()
        );
        assert!(
            PageQuery {
                limit: Some(201),
                cursor: None
            }
            .limit()
            .is_err()
        );
    }
}
