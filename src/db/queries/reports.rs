//! Who aggregate reports count. Only ids: the reports decrypt and count in memory.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{applications, assignments, coproducers, equal_opportunities, users};

/// Co-producers in the pool now (active or paused, not archived), with an active account.
pub fn pool(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    coproducers::table
        .inner_join(users::table)
        .filter(coproducers::status.ne("archived"))
        .filter(users::status.eq("active"))
        .select(coproducers::user_id)
        .load(conn)
}

/// People with an active account who sent an application (in `round_id`, or in any round).
pub fn applicants(conn: &mut DbConn, round_id: Option<&str>) -> QueryResult<Vec<String>> {
    let mut query = applications::table
        .inner_join(users::table)
        .filter(applications::submitted_at.is_not_null())
        .filter(users::status.eq("active"))
        .select(applications::user_id)
        .distinct()
        .into_boxed();
    if let Some(round_id) = round_id {
        query = query.filter(applications::round_id.eq(round_id.to_string()));
    }
    query.load(conn)
}

/// People with an active account ever booked (confirmed or completed).
pub fn placed(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    let active = users::table
        .filter(users::status.eq("active"))
        .select(users::id);
    assignments::table
        .filter(assignments::status.eq_any(["confirmed", "completed"]))
        .filter(assignments::coproducer_id.eq_any(active))
        .select(assignments::coproducer_id)
        .distinct()
        .load(conn)
}

/// (person, sealed answers) of everyone who gave equal-opportunities answers.
pub fn equal_opportunities(conn: &mut DbConn) -> QueryResult<Vec<(String, Vec<u8>)>> {
    equal_opportunities::table
        .select((
            equal_opportunities::user_id,
            equal_opportunities::ciphertext,
        ))
        .load(conn)
}
