//! Hand-written statements that stay prepared. Diesel never keeps an `UPDATE` (its `SET` list
//! could vary) or raw SQL (it could be built at run time) prepared, so SQLite parses such a
//! statement, with any triggers it fires, on every execution. A statement here is fixed text,
//! so diesel keeps it prepared per connection, keyed by its text (docs/PERFORMANCE.md).

use diesel::backend::Backend;
use diesel::connection::Connection;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `sql` with a `?` for each of `binds`, in order (and no other `?`); each backend writes its own
/// placeholders.
pub struct Prepared<'a, DB: Backend> {
    sql: &'static str,
    binds: &'a [&'a dyn QueryFragment<DB>],
}

impl<DB: Backend> QueryFragment<DB> for Prepared<'_, DB> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut parts = self.sql.split('?');
        let mut binds = self.binds.iter();
        if let Some(first) = parts.next() {
            out.push_sql(first);
        }
        for part in parts {
            let bind = binds.next().ok_or_else(|| mismatch(self.sql))?;
            bind.walk_ast(out.reborrow())?;
            out.push_sql(part);
        }
        if binds.next().is_some() {
            return Err(mismatch(self.sql));
        }
        Ok(())
    }
}

impl<DB: Backend> QueryId for Prepared<'_, DB> {
    type QueryId = ();
    // Keyed by its text, like any statement without a type of its own.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend, Conn> RunQueryDsl<Conn> for Prepared<'_, DB> {}

fn mismatch(sql: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(
        format!("the statement's placeholders and values differ in number: {sql}").into(),
    )
}

/// Runs `sql` with `binds` (values made with `IntoSql::into_sql`) and returns the rows changed.
pub fn execute<C>(
    conn: &mut C,
    sql: &'static str,
    binds: &[&dyn QueryFragment<C::Backend>],
) -> QueryResult<usize>
where
    C: Connection,
    for<'a> Prepared<'a, C::Backend>: diesel::query_dsl::methods::ExecuteDsl<C>,
{
    Prepared { sql, binds }.execute(conn)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::{Arc, Mutex};

    use diesel::connection::{InstrumentationEvent, SimpleConnection};
    use diesel::dsl::sql;
    use diesel::sql_types::{Integer, Text};
    use diesel::{Connection, IntoSql, SqliteConnection};

    use super::*;

    fn people() -> SqliteConnection {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        conn.batch_execute(
            "CREATE TABLE people (name TEXT NOT NULL, age INTEGER NOT NULL); \
             INSERT INTO people VALUES ('Ada', 36), ('Grace', 85);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn values_go_to_their_placeholders_in_order() {
        let mut conn = people();
        let changed = execute(
            &mut conn,
            "UPDATE people SET age = ? WHERE name = ?",
            &[&37.into_sql::<Integer>(), &"Ada".into_sql::<Text>()],
        )
        .unwrap();
        assert_eq!(changed, 1);
        let ada: i32 = diesel::select(sql::<Integer>(
            "(SELECT age FROM people WHERE name = 'Ada')",
        ))
        .get_result(&mut conn)
        .unwrap();
        assert_eq!(ada, 37);
    }

    #[test]
    fn the_statement_is_prepared_once_per_connection() {
        let mut conn = people();
        let cached = Arc::new(Mutex::new(0));
        let seen = Arc::clone(&cached);
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { .. } = event {
                *seen.lock().unwrap() += 1;
            }
        });
        for age in [40, 41, 42] {
            execute(
                &mut conn,
                "UPDATE people SET age = ? WHERE name = ?",
                &[&age.into_sql::<Integer>(), &"Grace".into_sql::<Text>()],
            )
            .unwrap();
        }
        assert_eq!(*cached.lock().unwrap(), 1);
    }

    #[test]
    fn more_values_than_placeholders_is_an_error_not_a_wrong_statement() {
        let mut conn = people();
        let result = execute(
            &mut conn,
            "UPDATE people SET age = ?",
            &[&1.into_sql::<Integer>(), &"Ada".into_sql::<Text>()],
        );
        assert!(matches!(
            result,
            Err(diesel::result::Error::QueryBuilderError(_))
        ));
    }

    #[test]
    fn fewer_values_than_placeholders_is_an_error_not_a_wrong_statement() {
        let mut conn = people();
        let result = execute(
            &mut conn,
            "UPDATE people SET age = ? WHERE name = ?",
            &[&1.into_sql::<Integer>()],
        );
        assert!(matches!(
            result,
            Err(diesel::result::Error::QueryBuilderError(_))
        ));
    }
}
