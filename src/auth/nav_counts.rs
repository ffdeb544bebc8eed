//! The counts in every signed-in page's navigation (approvals waiting for the user, unread
//! notifications), kept per user until a write or for a few seconds (`kept`): counting an
//! approver's inbox is the dearest statement of a request, and the same person asks again
//! on their next click. A form post does not count at all (it mostly answers with a
//! redirect): a form shown again with its errors carries the counts last kept for the user.
//!
//! After a write, one request per user counts while that user's other requests wait for it
//! and take what it kept: a busy approver's pages (tabs, frames, a dashboard refreshing) do
//! not all count the inbox at once.
use crate::db::{self, DbPool};
use crate::domain::permissions::Actor;
use crate::error::AppError;
use crate::kept::{self, Kept, Turns};

/// (approvals waiting, unread notifications) per user.
static COUNTS: Kept<i64, (usize, i64)> = Kept::new(10_000);

pub fn get(user_id: i64) -> Option<(usize, i64)> {
    COUNTS.get(&user_id)
}

/// The last counts kept for this user, however old: for a form post's page.
pub fn last(user_id: i64) -> Option<(usize, i64)> {
    COUNTS.last(&user_id)
}

/// Turns for counting, by user.
static COUNTING: Turns = Turns::new();

/// Count afresh (none kept for this generation), one request per user at a time.
pub async fn read(pool: &DbPool, viewer: Actor) -> Result<(usize, i64), AppError> {
    let _turn = if kept::enabled() {
        // Counted by the request that held the turn meanwhile?
        match COUNTS
            .after_turn(&viewer.id, COUNTING.take(&viewer.id))
            .await
        {
            Ok(counts) => return Ok(counts),
            Err(turn) => Some(turn),
        }
    } else {
        None
    };
    let reading = kept::reading();
    let counts = db::run(pool, move |conn| {
        Ok((
            crate::services::approvals::inbox_count(conn, viewer, 100)?,
            crate::services::notify::unread_count(conn, viewer.id)?,
        ))
    })
    .await?;
    COUNTS.put(viewer.id, reading, counts);
    Ok(counts)
}
