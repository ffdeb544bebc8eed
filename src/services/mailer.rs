//! The e-mail sender: drains the outbox in the background. Rows are claimed with
//! `FOR UPDATE SKIP LOCKED` (several instances never send one twice) and marked sent in the
//! same transaction; a failure leaves the row for a later attempt with exponential backoff,
//! so nothing is lost while the mail server is down.
use chrono::{Duration, Utc};
use diesel::prelude::*;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{Message, SmtpTransport, Transport};

use crate::schema::mail_outbox;

pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    base_url: String,
}

impl Mailer {
    /// From `RELMAN_SMTP_URL` (`smtp://host:port`), the sender address and the public base URL.
    pub fn new(smtp_url: &str, from: &str, base_url: &str) -> Result<Mailer, String> {
        let (host, port, credentials) = parse_smtp_url(smtp_url)?;
        let mut builder = SmtpTransport::builder_dangerous(host)
            .port(port)
            .timeout(Some(std::time::Duration::from_secs(10)));
        if let Some((user, pass)) = credentials {
            builder = builder.credentials(
                lettre::transport::smtp::authentication::Credentials::new(user, pass),
            );
        }
        let transport = builder.build();
        let from = from
            .parse()
            .map_err(|e| format!("RELMAN_MAIL_FROM is not an e-mail address: {e}"))?;
        Ok(Mailer {
            transport,
            from,
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }

    fn message(&self, to: &str, subject: &str, text: &str, link: &str) -> Result<Message, String> {
        let url = format!("{}{}", self.base_url, link);
        let plain = format!("{text}\n\nOpen it in Relman: {url}\n");
        let html = format!(
            "<!DOCTYPE html><html lang=\"en\"><body><p>{}</p><p><a href=\"{}\">Open it in Relman</a></p></body></html>",
            escape(text),
            escape(&url)
        );
        Message::builder()
            .from(self.from.clone())
            .to(to.parse().map_err(|e| format!("bad recipient {to}: {e}"))?)
            .subject(subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(plain),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|e| e.to_string())
    }

    /// Send what is due now; returns how many were sent.
    pub fn send_due(&self, conn: &mut PgConnection) -> QueryResult<usize> {
        let mut sent = 0;
        loop {
            let done = conn.transaction(|conn| {
                let row: Option<(i64, String, String, String, String, i32)> = mail_outbox::table
                    .filter(mail_outbox::sent_at.is_null())
                    .filter(mail_outbox::next_attempt_at.le(Utc::now()))
                    .order(mail_outbox::id)
                    .select((
                        mail_outbox::id,
                        mail_outbox::to_address,
                        mail_outbox::subject,
                        mail_outbox::text_body,
                        mail_outbox::link,
                        mail_outbox::attempts,
                    ))
                    .for_update()
                    .skip_locked()
                    .first(conn)
                    .optional()?;
                let Some((id, to, subject, text, link, attempts)) = row else {
                    return Ok::<_, diesel::result::Error>(None);
                };
                let result = self.message(&to, &subject, &text, &link).and_then(|m| {
                    self.transport
                        .send(&m)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                });
                match result {
                    Ok(()) => {
                        diesel::update(mail_outbox::table.find(id))
                            .set(mail_outbox::sent_at.eq(Some(Utc::now())))
                            .execute(conn)?;
                        Ok(Some(true))
                    }
                    Err(e) => {
                        // 30 s, 1 min, 2 min … at most an hour between attempts.
                        let wait = Duration::seconds((30i64 << attempts.min(7)).min(3600));
                        diesel::update(mail_outbox::table.find(id))
                            .set((
                                mail_outbox::attempts.eq(attempts + 1),
                                mail_outbox::next_attempt_at.eq(Utc::now() + wait),
                                mail_outbox::last_error.eq(Some(e)),
                            ))
                            .execute(conn)?;
                        Ok(Some(false))
                    }
                }
            })?;
            match done {
                Some(true) => sent += 1,
                // A failure: the server is probably down; try the rest later.
                Some(false) | None => return Ok(sent),
            }
        }
    }

    /// Drain the outbox every `interval` on its own thread.
    pub fn spawn(self, pool: crate::db::DbPool, interval: std::time::Duration) {
        std::thread::Builder::new()
            .name("relman-mailer".into())
            .spawn(move || loop {
                if let Ok(mut conn) = pool.get() {
                    match self.send_due(&mut conn) {
                        Ok(n) if n > 0 => tracing::info!(sent = n, "e-mail sent"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "e-mail outbox"),
                    }
                }
                std::thread::sleep(interval);
            })
            .expect("spawn the mailer thread");
    }
}

/// `smtp://[user:password@]host[:port]`: plain SMTP, as to a local relay (TLS is not built in).
pub fn parse_smtp_url(url: &str) -> Result<(String, u16, Option<(String, String)>), String> {
    let rest = url.strip_prefix("smtp://").ok_or_else(|| {
        "RELMAN_SMTP_URL must look like smtp://[user:password@]host[:port] (plain SMTP to a relay; TLS is not built in)".to_string()
    })?;
    let rest = rest.trim_end_matches('/');
    let (creds, hostport) = match rest.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("RELMAN_SMTP_URL has a bad port: {p}"))?,
        ),
        None => (hostport, 25),
    };
    if host.is_empty() {
        return Err("RELMAN_SMTP_URL has no host".into());
    }
    let creds = creds.map(|c| match c.split_once(':') {
        Some((u, p)) => (u.to_string(), p.to_string()),
        None => (c.to_string(), String::new()),
    });
    Ok((host.to_string(), port, creds))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        assert_eq!(
            parse_smtp_url("smtp://127.0.0.1:2525").unwrap(),
            ("127.0.0.1".into(), 2525, None)
        );
        assert_eq!(
            parse_smtp_url("smtp://mail.example").unwrap(),
            ("mail.example".into(), 25, None)
        );
        assert_eq!(
            parse_smtp_url("smtp://u:p@relay:587").unwrap(),
            ("relay".into(), 587, Some(("u".into(), "p".into())))
        );
        assert!(parse_smtp_url("smtps://relay").is_err());
        assert!(parse_smtp_url("smtp://relay:x").is_err());
    }
}
