//! The counts in every signed-in page's navigation (approvals waiting for the user, unread
//! notifications), kept per user until a write or for a few seconds (`kept`): counting an
//! approver's inbox is the dearest statement of a request, and the same person asks again
//! on their next click. A form post does not count at all (it mostly answers with a
//! redirect): a form shown again with its errors carries the counts last kept for the user.
use crate::kept::Kept;

/// (approvals waiting, unread notifications) per user.
static COUNTS: Kept<i64, (usize, i64)> = Kept::new(10_000);

pub fn get(user_id: i64) -> Option<(usize, i64)> {
    COUNTS.get(&user_id)
}

/// The last counts kept for this user, however old: for a form post's page.
pub fn last(user_id: i64) -> Option<(usize, i64)> {
    COUNTS.last(&user_id)
}

pub fn put(user_id: i64, generation: u64, counts: (usize, i64)) {
    COUNTS.put(user_id, generation, counts)
}
