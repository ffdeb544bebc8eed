//! `AppError`, the one error type handlers return. It renders an error page that never shows
//! internal text; the detail goes to the log. Services and models return `QueryResult` or
//! `AppError`; `diesel::NotFound` becomes 404 here, in one place.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("sign-in required")]
    Unauthenticated { next: String },
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A form that was read but cannot be taken as sent (a control character in a field): 422.
    #[error("unprocessable form: {0}")]
    Unprocessable(String),
    #[error("the form's security token is missing or out of date")]
    Csrf,
    #[error("database: {0}")]
    Db(diesel::result::Error),
    #[error("connection pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            e => AppError::Db(e),
        }
    }
}

/// Whether a database error means the connection to PostgreSQL is gone (or was never made):
/// libpq's "server closed the connection", "no connection to the server" (a command sent on a
/// connection that died, e.g. the `ROLLBACK` after a failed statement), a failed commit whose
/// rollback failed too, and PostgreSQL shutting down or starting up.
fn is_connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            [
                "terminating connection",
                "server closed the connection",
                "no connection to the server",
                "the database system is",
                "could not connect to server",
                "connection to server",
            ]
            .iter()
            .any(|needle| m.contains(needle))
        }
        Error::RollbackErrorOnCommit {
            commit_error,
            rollback_error,
        } => is_connection_lost(commit_error) || is_connection_lost(rollback_error),
        // "likely due to a broken connection": no statement can run on it any more.
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(format!("blocking task failed: {e}"))
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl AppError {
    /// The database is unreachable (down, restarting, out of connections): 503, not 500.
    pub fn is_outage(&self) -> bool {
        match self {
            AppError::Pool(_) => true,
            AppError::Db(e) => is_connection_lost(e),
            _ => false,
        }
    }

    /// Two transactions collided (a deadlock or a serialization failure): the database rolled
    /// one back, nothing of it was saved, and trying again will work.
    pub fn is_contention(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            AppError::Db(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => true,
            AppError::Db(Error::DatabaseError(_, info)) => {
                info.message().contains("deadlock detected")
            }
            _ => false,
        }
    }

    fn title_and_message(&self) -> (&'static str, String) {
        if self.is_contention() {
            return (
                "Someone else was changing this at the same moment",
                "Nothing of yours was saved. Go back, reload the page and try again.".into(),
            );
        }
        if self.is_outage() {
            return ("Relman is briefly unavailable", "The database is not answering right now, so nothing was changed. Please try again in a minute.".into());
        }
        match self {
            AppError::NotFound => ("Not found", "There is nothing at this address. Check the link, or go back to the dashboard.".into()),
            AppError::Forbidden(why) => ("Not allowed", if why.is_empty() { "You do not have permission to do this.".into() } else { why.clone() }),
            AppError::Unauthenticated { .. } => ("Sign-in required", "Please sign in.".into()),
            AppError::BadRequest(why) => ("The request could not be understood", why.clone()),
            AppError::Unprocessable(why) => ("The form could not be saved", why.clone()),
            AppError::Csrf => ("The form has expired", "The form's security token is missing or out of date, so nothing was changed. Go back, reload the page and try again.".into()),
            _ => ("Something went wrong", "The server could not finish this request. Nothing was lost that had been saved; please try again in a moment.".into()),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::Unauthenticated { .. } => StatusCode::SEE_OTHER,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            e if e.is_outage() => StatusCode::SERVICE_UNAVAILABLE,
            e if e.is_contention() => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Unauthenticated { next } = self {
            let to = if next.is_empty() || next == "/" {
                "/login".to_string()
            } else {
                format!("/login?next={}", crate::paths::encode(next))
            };
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .finish();
        }
        // Every 5xx is logged with its cause by `app::log_server_errors`, which sees this
        // error on the response.
        let status = self.status_code();
        let (title, message) = self.title_and_message();
        let body = ErrorPage {
            status: status.as_u16(),
            title,
            message: &message,
        }
        .render()
        .unwrap_or_else(|_| format!("{} {title}", status.as_u16()));
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn db(kind: DatabaseErrorKind, message: &str) -> AppError {
        AppError::Db(Error::DatabaseError(kind, Box::new(message.to_string())))
    }

    #[test]
    fn a_lost_connection_is_an_outage_whatever_libpq_calls_it() {
        for e in [
            db(DatabaseErrorKind::UnableToSendCommand, "no connection to the server\n"),
            db(DatabaseErrorKind::Unknown, "no connection to the server\n"),
            db(
                DatabaseErrorKind::Unknown,
                "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally",
            ),
            db(DatabaseErrorKind::ClosedConnection, "anything"),
            db(DatabaseErrorKind::Unknown, "the database system is shutting down"),
            AppError::Db(Error::RollbackErrorOnCommit {
                commit_error: Box::new(Error::DatabaseError(
                    DatabaseErrorKind::UnableToSendCommand,
                    Box::new("no connection to the server\n".to_string()),
                )),
                rollback_error: Box::new(Error::BrokenTransactionManager),
            }),
        ] {
            assert!(e.is_outage(), "{e}");
            assert_eq!(e.status_code(), StatusCode::SERVICE_UNAVAILABLE, "{e}");
        }
    }

    #[test]
    fn other_database_errors_stay_500() {
        let e = db(DatabaseErrorKind::Unknown, "column \"x\" does not exist");
        assert!(!e.is_outage());
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_refused_form_is_422_with_its_message() {
        let e = AppError::Unprocessable("“title” contains a NUL character".into());
        assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = e.error_response().into_body();
        let bytes = actix_web::body::to_bytes(body);
        let text = futures_util::FutureExt::now_or_never(bytes)
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&text).contains("contains a NUL character"));
    }
}
