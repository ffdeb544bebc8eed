//! One-time submission keys: a form that creates a record carries a key issued with it, and a
//! second POST of the same form creates nothing and is sent to what the first created.
use diesel::prelude::*;

use crate::error::{AppError, AppResult};
use crate::schema::submissions;

/// A fresh key for a form (128 random bits, hex).
pub fn new_key() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Give a form its key: a fresh one, unless it has one (a refused form keeps the key it was
/// sent with, so the corrected form is still the same submission).
pub fn issue(key: &mut String) {
    if key.trim().is_empty() {
        *key = new_key();
    }
}

/// What happened to a submission.
pub enum Once<T, E> {
    /// The first with its key (or one without a key): `create` ran and made `T`.
    Created(T),
    /// `create` refused the input: the key stays free for the corrected form.
    Invalid(E),
    /// An earlier submission with the same key created what is at this path.
    Repeat(String),
}

/// Run `create` once per submission `key` of `user`, in one transaction with the key's claim;
/// `path_of` names what it created, for a repeat to be sent to. Two submissions at once wait
/// for each other on the key's row, so the second sees the first's outcome.
pub fn once<T, E>(
    conn: &mut PgConnection,
    key: &str,
    user: i64,
    create: impl FnOnce(&mut PgConnection) -> AppResult<Result<T, E>>,
    path_of: impl Fn(&T) -> String,
) -> AppResult<Once<T, E>> {
    let key = key.trim();
    if key.is_empty() {
        return Ok(match create(conn)? {
            Ok(t) => Once::Created(t),
            Err(e) => Once::Invalid(e),
        });
    }
    if key.len() < 16 || key.len() > 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest(
            "The form's submission key is not valid: reload the form and send it again.".into(),
        ));
    }
    conn.transaction(|conn| {
        diesel::delete(
            submissions::table
                .filter(submissions::at.lt(chrono::Utc::now() - chrono::Duration::days(2))),
        )
        .execute(conn)?;
        let claimed = diesel::insert_into(submissions::table)
            .values((submissions::key.eq(key), submissions::user_id.eq(user)))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if claimed == 0 {
            let (owner, path): (i64, String) = submissions::table
                .find(key)
                .select((submissions::user_id, submissions::created_path))
                .first(conn)?;
            if owner != user {
                return Err(AppError::BadRequest(
                    "The form's submission key belongs to another session: reload the form.".into(),
                ));
            }
            return Ok(Once::Repeat(path));
        }
        match create(conn)? {
            Ok(t) => {
                diesel::update(submissions::table.find(key))
                    .set(submissions::created_path.eq(path_of(&t)))
                    .execute(conn)?;
                Ok(Once::Created(t))
            }
            Err(e) => {
                diesel::delete(submissions::table.find(key)).execute(conn)?;
                Ok(Once::Invalid(e))
            }
        }
    })
}
