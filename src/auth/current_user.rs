//! The `CurrentUser` extractor: reloads the user on every request, so deactivation, a role
//! removed or a password reset takes effect on the very next request.
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use super::nav_counts;
use super::session::{TypedSession, IDLE_LIMIT_SECS};
use crate::db::{self, DbPool};
use crate::domain::permissions::Actor;
use crate::domain::roles::{Role, Roles};
use crate::error::AppError;
use crate::views::Ctx;

#[derive(Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: Roles,
    pub session: TypedSession,
    /// Approvals waiting for this user's vote (approvers only), for the navigation.
    pub pending_approvals: usize,
    /// Unread notifications, for the navigation.
    pub unread: i64,
    path: String,
    /// Path and query of a GET (`""` for other methods): where a kept page is filed.
    pub address: String,
}

impl CurrentUser {
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.id,
            roles: self.roles,
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.has(role)
    }

    /// Refuse unless `allowed`, with the reason shown on the 403 page.
    pub fn require(&self, allowed: bool, why: &str) -> Result<(), AppError> {
        if allowed {
            Ok(())
        } else {
            Err(AppError::Forbidden(why.to_string()))
        }
    }

    /// The page context for templates (takes the flash messages).
    pub fn ctx(&self) -> Ctx {
        let mut ctx = Ctx::signed_in(
            &self.display_name,
            &self.username,
            self.roles,
            &self.path,
            self.session.csrf_token(),
            self.session.take_flash(),
        );
        ctx.pending_approvals = self.pending_approvals;
        ctx.unread = self.unread;
        ctx
    }

    pub fn flash(&self, kind: &str, message: impl Into<String>) {
        self.session.flash(kind, message)
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<CurrentUser, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = TypedSession::from_request(req, payload)
            .into_inner()
            .expect("infallible");
        let pool = req.app_data::<web::Data<DbPool>>().cloned();
        let path = req.path().to_string();
        let writes = !matches!(
            *req.method(),
            actix_web::http::Method::GET | actix_web::http::Method::HEAD
        );
        // Only a GET is worth returning to after signing in.
        let next = if req.method() == actix_web::http::Method::GET {
            req.uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let address = next.clone();
        Box::pin(async move {
            let unauthenticated = AppError::Unauthenticated { next };
            let (Some(uid), Some(sid)) = (session.user_id(), session.session_id()) else {
                return Err(unauthenticated);
            };
            if session.idle_secs().is_none_or(|s| s > IDLE_LIMIT_SECS) {
                session.sign_out();
                return Err(unauthenticated);
            }
            let pool = pool.ok_or_else(|| AppError::Internal("no database pool".into()))?;
            let user = db::run(&pool, move |conn| {
                let Some((u, database_writes)) = crate::models::sessions::user_of(conn, uid, &sid)?
                else {
                    return Ok(None);
                };
                crate::kept::saw_database_writes(database_writes);
                // A form post mostly answers with a redirect; when it shows its form again, the
                // counts the user saw on the page they posted from are good enough.
                let counts = nav_counts::get(u.id).or_else(|| {
                    (writes && crate::kept::enabled())
                        .then(|| nav_counts::last(u.id).unwrap_or((0, 0)))
                });
                Ok(Some((u, counts)))
            })
            .await?;
            let Some((user, counts)) = user else {
                session.sign_out();
                return Err(unauthenticated);
            };
            if !(user.active && Some(user.session_epoch) == session.epoch()) {
                session.sign_out();
                return Err(unauthenticated);
            }
            let (pending_approvals, unread) = match counts {
                Some(counts) => counts,
                None => {
                    nav_counts::read(
                        &pool,
                        Actor {
                            id: user.id,
                            roles: user.role_set(),
                        },
                    )
                    .await?
                }
            };
            session.touch();
            Ok(CurrentUser {
                pending_approvals,
                unread,
                id: user.id,
                roles: user.role_set(),
                username: user.username,
                display_name: user.display_name,
                session,
                path,
                address,
            })
        })
    }
}
