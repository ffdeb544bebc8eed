//! The history hash chain: each event's hash covers its content and the previous event's hash
//! of the same record, so editing or deleting a row behind the application's back shows.
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// What an event's hash covers.
pub struct EventContent<'a> {
    pub release_id: i64,
    pub actor_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub record_version: i32,
    pub kind: &'a str,
    pub summary: &'a str,
    pub from_phase_id: Option<i64>,
    pub to_phase_id: Option<i64>,
    pub reason: Option<&'a str>,
    /// (field, old, new) in the order they were recorded.
    pub changes: &'a [(String, String, String)],
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

/// The hex SHA-256 of the previous hash and the event's content, unambiguously framed.
pub fn hash(prev: &str, e: &EventContent) -> String {
    let mut h = Sha256::new();
    let mut part = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    part(prev);
    part(&e.release_id.to_string());
    part(&opt(e.actor_id));
    part(&e.at.timestamp_micros().to_string());
    part(&e.record_version.to_string());
    part(e.kind);
    part(e.summary);
    part(&opt(e.from_phase_id));
    part(&opt(e.to_phase_id));
    part(&opt(e.reason));
    for (f, o, n) in e.changes {
        part(f);
        part(o);
        part(n);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(summary: &'a str, changes: &'a [(String, String, String)]) -> EventContent<'a> {
        EventContent {
            release_id: 7,
            actor_id: Some(3),
            at: DateTime::from_timestamp(1_800_000_000, 123_456_000).unwrap(),
            record_version: 2,
            kind: "edit",
            summary,
            from_phase_id: None,
            to_phase_id: None,
            reason: None,
            changes,
        }
    }

    #[test]
    fn any_change_of_content_or_chain_changes_the_hash() {
        let ch = vec![("Title".to_string(), "a".to_string(), "b".to_string())];
        let base = hash("", &event("Changed Title", &ch));
        assert_eq!(base.len(), 64);
        assert_eq!(
            base,
            hash("", &event("Changed Title", &ch)),
            "deterministic"
        );
        assert_ne!(
            base,
            hash("x", &event("Changed Title", &ch)),
            "previous hash"
        );
        assert_ne!(base, hash("", &event("Changed title", &ch)), "summary");
        let other = vec![("Title".to_string(), "a".to_string(), "c".to_string())];
        assert_ne!(
            base,
            hash("", &event("Changed Title", &other)),
            "field change"
        );
        // Framing: moving text between parts changes the hash.
        let split = vec![("Titlea".to_string(), "".to_string(), "b".to_string())];
        assert_ne!(base, hash("", &event("Changed Title", &split)));
    }
}
