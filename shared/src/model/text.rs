//! What text a client may send. Checked once, on every JSON body before it is read into a
//! request type, so no field of any endpoint (present or future) can store it:
//! - nowhere: NUL, the other C0 controls but tab, line feed and carriage return, DEL and the C1
//!   controls (they break logs, terminals and other systems' parsers);
//! - in names (a field called `name` or ending in `name`: `username`, `first_name`, a badge's
//!   `name`...): no control character at all, and no bidirectional formatting characters
//!   (overrides, embeddings, isolates and marks), with which `"\u{202e}evil"` displays as
//!   another name.

use serde_json::Value;

use crate::error::FieldErrors;

pub const CONTROL_CHARACTER: &str = "Control characters are not allowed.";
pub const BIDI_CHARACTER: &str = "Bidirectional formatting characters are not allowed in names.";

/// A control character that no text field may hold.
fn forbidden_anywhere(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The bidirectional formatting characters (Unicode's Bidi_Control property).
fn bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

fn is_name_field(field: &str) -> bool {
    field == "name" || field.ends_with("name")
}

/// The first problem of a text value in `field`, if any.
pub fn text_problem(field: &str, text: &str) -> Option<&'static str> {
    if is_name_field(field) {
        if text.chars().any(char::is_control) {
            return Some(CONTROL_CHARACTER);
        }
        if text.chars().any(bidi_control) {
            return Some(BIDI_CHARACTER);
        }
        None
    } else if text.chars().any(forbidden_anywhere) {
        Some(CONTROL_CHARACTER)
    } else {
        None
    }
}

/// Adds an error for every string in `value` (object keys too) that [`text_problem`] refuses,
/// named by its path (`first_name`, `criteria.requirements[1].name`).
pub fn check_json_text(value: &Value, path: &str, errors: &mut FieldErrors) {
    let last = path.rsplit(['.', ']']).next().unwrap_or(path);
    match value {
        Value::String(text) => {
            if let Some(problem) = text_problem(last, text) {
                errors.add(
                    if path.is_empty() {
                        "non_field_errors"
                    } else {
                        path
                    },
                    problem,
                );
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_json_text(item, &format!("{path}[{i}]"), errors);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if key.chars().any(forbidden_anywhere) {
                    errors.add("non_field_errors", CONTROL_CHARACTER);
                    continue;
                }
                check_json_text(item, &inner, errors);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(value: Value) -> Vec<String> {
        let mut errors = FieldErrors::new();
        check_json_text(&value, "", &mut errors);
        errors.0.keys().cloned().collect()
    }

    #[test]
    fn names_refuse_bidi_and_every_control_character() {
        assert_eq!(
            problems(json!({"first_name": "\u{202e}evil"})),
            ["first_name"]
        );
        assert_eq!(problems(json!({"username": "a\u{2066}b"})), ["username"]);
        assert_eq!(problems(json!({"last_name": "a\nb"})), ["last_name"]);
        assert!(problems(json!({"first_name": "Zoë Ærø 山田"})).is_empty());
    }

    #[test]
    fn other_text_keeps_line_breaks_but_refuses_nul_and_controls() {
        assert!(problems(json!({"bio": "line one\nline two\ttab"})).is_empty());
        assert_eq!(problems(json!({"bio": "a\u{0}b"})), ["bio"]);
        assert_eq!(problems(json!({"city": "a\u{7}"})), ["city"]);
        assert_eq!(problems(json!({"bio": "a\u{85}"})), ["bio"]);
        // Bidi marks are fine in prose (Arabic and Hebrew text needs them).
        assert!(problems(json!({"bio": "\u{200f}שלום"})).is_empty());
    }

    #[test]
    fn nested_paths_are_named() {
        let value = json!({"criteria": {"requirements": [{"name": "ok"}, {"name": "\u{202d}x"}]}});
        assert_eq!(problems(value), ["criteria.requirements[1].name"]);
    }
}
