//! `Form<T>`: a form post whose CSRF token has been checked against the session before the
//! handler runs. Every POST handler takes its input through it, so none can forget the check.
//! Repeated fields (`role=a&role=b`) deserialize into `Vec`s. Every field is decoded and
//! checked for control characters (`domain::text`) before the handler sees it,
//! so no form can store one.
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::auth::TypedSession;
use crate::domain::text;
use crate::error::AppError;

pub struct Form<T>(pub T);

impl<T> Form<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

#[derive(Deserialize)]
struct CsrfField {
    csrf_token: Option<String>,
}

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Form<T>, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = TypedSession::from_request(req, payload)
            .into_inner()
            .expect("infallible");
        let body = Bytes::from_request(req, payload);
        let is_form = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        Box::pin(async move {
            let body = body.await.map_err(|e| {
                AppError::BadRequest(format!(
                    "The form could not be read ({e}). Forms are limited to 256 KiB."
                ))
            })?;
            if !is_form {
                return Err(AppError::BadRequest(
                    "Expected a form post (application/x-www-form-urlencoded).".into(),
                ));
            }
            if std::str::from_utf8(&body).is_err() {
                return Err(AppError::BadRequest("The form is not valid UTF-8.".into()));
            }
            let token = serde_html_form::from_bytes::<CsrfField>(&body)
                .ok()
                .and_then(|f| f.csrf_token);
            if !token.is_some_and(|t| session.csrf_matches(&t)) {
                return Err(AppError::Csrf);
            }
            // Decoded first, then checked: `%%0000` is a NUL once decoded, whatever it looks
            // like before. Nothing is taken out silently.
            if let Ok(fields) = serde_html_form::from_bytes::<Vec<(String, String)>>(&body) {
                for (key, value) in &fields {
                    if let Some(why) = text::control_character_problem(key, value) {
                        return Err(AppError::Unprocessable(why));
                    }
                }
            }
            serde_html_form::from_bytes::<T>(&body)
                .map(Form)
                .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}.")))
        })
    }
}

/// Messages of a failed form: one per field, shown in a summary at the top (linking to the
/// field) and beside the field itself.
#[derive(Debug, Default, Clone)]
pub struct FormErrors(pub Vec<(String, String)>);

impl FormErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_string(), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for one field, or "" when it has none (templates test `!= ""`).
    pub fn get(&self, field: &str) -> &str {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .unwrap_or("")
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| f == field)
    }
}

/// Trim a text input; `None` when it is empty.
pub fn non_empty(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}
