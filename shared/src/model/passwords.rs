//! Password rules, as Django's four validators plus a length cap: at least 8 and at most 128
//! characters, not entirely numeric, not a common password, not too similar to the username
//! or email. The messages are Django's, so clients of the seed's API see familiar text.

pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;

const COMMON: &str = include_str!("common-passwords.txt");

fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l == lower)
}

/// Similarity of two strings as Python's `difflib.SequenceMatcher.ratio()` approximates it:
/// twice the longest common subsequence over the summed lengths (0.0 to 1.0).
fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut row = vec![0usize; b.len() + 1];
    for x in &a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    2.0 * row[b.len()] as f64 / (a.len() + b.len()) as f64
}

/// What is wrong with a password, as messages for the `password` field; empty when it is fine.
/// `attributes` are the user's own values (username, email, names) it must not resemble.
pub fn password_problems(password: &str, attributes: &[(&str, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        problems.push(format!(
            "This password is too short. It must contain at least {PASSWORD_MIN_CHARS} characters."
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        problems.push(format!(
            "Ensure this field has no more than {PASSWORD_MAX_CHARS} characters."
        ));
        // Longer checks would only cost time on input that is already refused.
        return problems;
    }
    if is_common(password) {
        problems.push("This password is too common.".into());
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("This password is entirely numeric.".into());
    }
    let lower = password.to_lowercase();
    for (label, value) in attributes {
        let value = value.to_lowercase();
        if value.chars().count() < 3 {
            continue;
        }
        // The whole value and its parts (an email's local part, a dotted username's pieces).
        let parts = std::iter::once(value.as_str()).chain(
            value
                .split(|c: char| !c.is_alphanumeric())
                .filter(|p| p.chars().count() >= 3),
        );
        let similar = parts.into_iter().any(|part| {
            lower == part
                || (part.chars().count() >= 4 && lower.contains(part))
                || similarity(&lower, part) >= 0.7
        });
        if similar {
            problems.push(format!("The password is too similar to the {label}."));
            break;
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> Vec<(&'static str, &'static str)> {
        vec![
            ("username", "janedoe"),
            ("email address", "jane.doe@example.com"),
        ]
    }

    #[test]
    fn accepts_a_good_password() {
        assert!(password_problems("violet-harbour-42", &attrs()).is_empty());
    }

    #[test]
    fn refuses_short_long_common_numeric() {
        assert_eq!(password_problems("a1b2c3", &[]).len(), 1);
        assert_eq!(password_problems(&"x".repeat(129), &[]).len(), 1);
        assert!(
            password_problems("Password123", &[])
                .contains(&"This password is too common.".to_string())
        );
        assert!(
            password_problems("4815162342", &[])
                .contains(&"This password is entirely numeric.".to_string())
        );
    }

    #[test]
    fn refuses_passwords_like_the_user() {
        for pw in [
            "janedoe",
            "JaneDoe1",
            "janedoe2024",
            "jane.doe@example.com",
            "xjanedoex",
        ] {
            let problems = password_problems(pw, &attrs());
            assert!(
                problems.iter().any(|p| p.contains("too similar")),
                "{pw}: {problems:?}"
            );
        }
    }

    #[test]
    fn similarity_matches_sequence_matcher_on_simple_cases() {
        assert_eq!(similarity("abcd", "abcd"), 1.0);
        assert_eq!(similarity("abcd", "wxyz"), 0.0);
        assert!((similarity("janedoe1", "janedoe") - 14.0 / 15.0).abs() < 1e-9);
    }
}
