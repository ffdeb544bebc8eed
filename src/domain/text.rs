//! Text as Relman accepts it from a form: no control characters, line breaks only in text
//! areas. `forms::Form` applies this to every field of every form before a handler reads it.
use super::fields::{FieldKind, CHANGE_FIELDS, RELEASE_FIELDS};

/// Fields typed in a text area, where a line break belongs: LF, or CR-LF as browsers send it.
/// Every other field is one line.
pub fn is_multi_line(key: &str) -> bool {
    // `description`, `phase_description`, a model's task `t3_description`.
    key.ends_with("description")
        || matches!(key, "body" | "reason")
        || RELEASE_FIELDS
            .iter()
            .chain(CHANGE_FIELDS)
            .any(|f| f.key == key && f.kind == FieldKind::Text)
}

/// Why a field's value is refused, if it is: it holds a control character (Unicode `Cc`: NUL,
/// ESC, a bare CR, …) other than a tab, or a line break outside a text area. Nobody types
/// them; stored, they end up in calendar feeds (a CR starts a new property for some clients),
/// terminals (an ESC starts an ANSI sequence) and PostgreSQL (which cannot store a NUL).
pub fn control_character_problem(key: &str, value: &str) -> Option<String> {
    let lines_allowed = is_multi_line(key);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let allowed = match c {
            '\t' => true,
            '\n' => lines_allowed,
            '\r' => lines_allowed && chars.peek() == Some(&'\n'),
            c => !c.is_control(),
        };
        if !allowed {
            let what = match c {
                '\0' => "a NUL character".to_string(),
                '\r' if lines_allowed => "a carriage return (CR) without a line feed".to_string(),
                '\n' | '\r' => "a line break".to_string(),
                '\u{1b}' => "an escape character (ESC)".to_string(),
                c => format!("a control character (U+{:04X})", u32::from(c)),
            };
            let field = if key.len() <= 40 && !key.chars().any(char::is_control) {
                format!("The field “{key}”")
            } else {
                "A field".to_string()
            };
            return Some(format!(
                "{field} contains {what}, which is not allowed there. \
                 Remove it (it may have come with pasted text) and try again."
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_tabs_and_unicode_pass_everywhere() {
        for v in [
            "",
            "Billing update",
            "a\tb",
            "Ünïcödé ✓ 😀",
            "\u{202e}rtl",
            "100%",
        ] {
            assert_eq!(control_character_problem("title", v), None, "{v:?}");
            assert_eq!(control_character_problem("description", v), None, "{v:?}");
        }
    }

    #[test]
    fn line_breaks_pass_only_in_text_areas_and_only_as_lf_or_crlf() {
        for key in [
            "description",
            "body",
            "reason",
            "phase_description",
            "t3_description",
            "backout_plan",
        ] {
            assert_eq!(control_character_problem(key, "one\ntwo"), None, "{key}");
            assert_eq!(
                control_character_problem(key, "one\r\ntwo\r\n"),
                None,
                "{key}"
            );
            let bare = control_character_problem(key, "one\rtwo").expect(key);
            assert!(bare.contains("carriage return"), "{bare}");
            assert!(control_character_problem(key, "ends\r").is_some(), "{key}");
        }
        for key in [
            "title",
            "name",
            "display_name",
            "t0_title",
            "risk_reason",
            "comment",
        ] {
            assert!(
                control_character_problem(key, "one\ntwo").is_some(),
                "{key}"
            );
            assert!(
                control_character_problem(key, "one\r\ntwo").is_some(),
                "{key}"
            );
            assert!(
                control_character_problem(key, "one\rtwo").is_some(),
                "{key}"
            );
        }
    }

    #[test]
    fn nul_escape_and_other_control_characters_are_refused_everywhere() {
        for key in ["title", "description", "password"] {
            for v in [
                "a\0b",
                "\u{1b}[31mred\u{1b}[0m",
                "bell\u{7}",
                "del\u{7f}",
                "c1\u{9b}31m",
            ] {
                assert!(control_character_problem(key, v).is_some(), "{key} {v:?}");
            }
        }
        let m = control_character_problem("name", "\u{1b}[2J").unwrap();
        assert!(
            m.contains("“name”") && m.contains("escape character"),
            "{m}"
        );
        let m = control_character_problem("title", "x\0").unwrap();
        assert!(m.contains("NUL"), "{m}");
    }
}
