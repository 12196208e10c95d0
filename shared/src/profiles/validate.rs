//! Field validation shared by profiles, professional profiles and settings: each parser takes
//! the JSON value a client sent and returns the value to store or the message for the field.

use chrono::NaiveDate;
use serde_json::Value as Json;

use crate::model::TimeZone;

/// The languages the product is translated into (BCP 47 tags). Matching is case-insensitive;
/// the tag is stored as written here.
pub const LANGUAGES: [&str; 24] = [
    "en", "en-GB", "en-US", "es", "es-ES", "es-MX", "fr", "fr-CA", "fr-FR", "de", "it", "pt",
    "pt-BR", "pt-PT", "nl", "sv", "da", "nb", "fi", "pl", "ja", "ko", "zh-Hans", "zh-Hant",
];

/// The longest URL we store.
pub const URL_MAX_CHARS: usize = 2048;

/// "Must be one of: a, b, c." — invalid choices name the allowed values.
pub fn choice_message(allowed: &[&str]) -> String {
    format!(
        "\"{{value}}\" is not a valid choice. Allowed values: {}.",
        allowed.join(", ")
    )
}

/// A choice among `allowed` (exact match), else the message naming the allowed values.
pub fn choice(value: &Json, allowed: &[&str]) -> Result<String, String> {
    match value.as_str() {
        Some(s) if allowed.contains(&s) => Ok(s.to_owned()),
        Some(s) => Err(choice_message(allowed).replace("{value}", s)),
        None => Err(format!(
            "Not a valid string. Allowed values: {}.",
            allowed.join(", ")
        )),
    }
}

pub fn boolean(value: &Json) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "Must be a valid boolean.".to_owned())
}

/// A string of at most `max` characters, trimmed; `null` reads as empty.
pub fn text(value: &Json, max: usize) -> Result<String, String> {
    let s = match value {
        Json::Null => "",
        Json::String(s) => s.trim(),
        _ => return Err("Not a valid string.".into()),
    };
    if s.chars().count() > max {
        return Err(format!(
            "Ensure this field has no more than {max} characters."
        ));
    }
    Ok(s.to_owned())
}

/// An optional string: `null` or blank is `None`.
pub fn optional_text(value: &Json, max: usize) -> Result<Option<String>, String> {
    Ok(Some(text(value, max)?).filter(|s| !s.is_empty()))
}

/// A phone number in E.164 form (`+` and up to 15 digits), valid for its country according to
/// libphonenumber's metadata (the `rlibphonenumber` crate). Stored in E.164.
pub fn phone(value: &Json) -> Result<Option<String>, String> {
    let Some(raw) = optional_text(value, 32)? else {
        return Ok(None);
    };
    let message = "Enter a valid phone number in E.164 format, e.g. +14155552671.";
    let digits = raw.strip_prefix('+').ok_or(message)?;
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(message.into());
    }
    let number: rlibphonenumber::PhoneNumber = raw.parse().map_err(|_| message.to_owned())?;
    if !number.is_valid() {
        return Err(message.into());
    }
    Ok(Some(
        number
            .format_as(rlibphonenumber::PhoneNumberFormat::E164)
            .into_owned(),
    ))
}

/// An https URL with a host, at most [`URL_MAX_CHARS`].
pub fn https_url(value: &Json) -> Result<Option<String>, String> {
    let Some(raw) = optional_text(value, URL_MAX_CHARS)? else {
        return Ok(None);
    };
    let url = url::Url::parse(&raw).map_err(|_| "Enter a valid URL.".to_owned())?;
    if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
        return Err("Enter a valid https URL.".into());
    }
    Ok(Some(url.to_string()))
}

/// An ISO 3166-1 alpha-2 country code (either case), stored upper-case.
pub fn country(value: &Json) -> Result<Option<String>, String> {
    let Some(raw) = optional_text(value, 2)? else {
        return Ok(None);
    };
    let message = "Enter a valid ISO 3166-1 alpha-2 country code, e.g. DE.";
    if raw.len() != 2 || !raw.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(message.into());
    }
    celes::Country::from_alpha2(&raw)
        .map(|c| c.alpha2.to_ascii_uppercase())
        .map(Some)
        .map_err(|_| message.to_owned())
}

/// A date `YYYY-MM-DD` strictly before `today`.
pub fn past_date(value: &Json, today: NaiveDate) -> Result<Option<String>, String> {
    let Some(raw) = optional_text(value, 10)? else {
        return Ok(None);
    };
    let date = NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
        .map_err(|_| "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.")?;
    if date >= today {
        return Err("The date of birth must be in the past.".into());
    }
    Ok(Some(date.format("%Y-%m-%d").to_string()))
}

/// An IANA time zone name ([`TimeZone`]), matched without regard to case and stored as the
/// database spells it.
pub fn timezone(value: &Json) -> Result<String, String> {
    let message = "Enter a valid IANA time zone name, e.g. Europe/Berlin or UTC.";
    let raw = value.as_str().ok_or(message)?;
    TimeZone::canonical_name(raw)
        .map(str::to_owned)
        .ok_or_else(|| message.to_owned())
}

/// A language of [`LANGUAGES`], matched without regard to case.
pub fn language(value: &Json) -> Result<String, String> {
    let raw = value.as_str().unwrap_or("");
    LANGUAGES
        .iter()
        .find(|l| l.eq_ignore_ascii_case(raw))
        .map(|l| (*l).to_owned())
        .ok_or_else(|| choice_message(&LANGUAGES).replace("{value}", raw))
}

/// An integer within `min..=max`.
pub fn integer(value: &Json, min: i64, max: i64) -> Result<i64, String> {
    match value.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(format!("Ensure this value is between {min} and {max}.")),
        None => Err("A valid integer is required.".into()),
    }
}

/// A list of non-blank strings, each at most `max_chars`, at most `max_items` of them.
pub fn string_list(
    value: &Json,
    max_items: usize,
    max_chars: usize,
) -> Result<Vec<String>, String> {
    let list = match value {
        Json::Null => return Ok(Vec::new()),
        Json::Array(list) => list,
        _ => return Err("Expected a list of strings.".into()),
    };
    if list.len() > max_items {
        return Err(format!(
            "Ensure this list has no more than {max_items} items."
        ));
    }
    list.iter()
        .map(|v| match v.as_str().map(str::trim) {
            Some(s) if !s.is_empty() && s.chars().count() <= max_chars => Ok(s.to_owned()),
            Some("") => Err("List items may not be blank.".to_owned()),
            Some(_) => Err(format!(
                "Ensure each item has no more than {max_chars} characters."
            )),
            None => Err("Expected a list of strings.".to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phones() {
        assert_eq!(
            phone(&json!("+14155552671")).unwrap().as_deref(),
            Some("+14155552671")
        );
        assert_eq!(phone(&json!(null)).unwrap(), None);
        assert!(phone(&json!("4155552671")).is_err());
        assert!(phone(&json!("+1 415 555 2671")).is_err());
        assert!(phone(&json!("+999999")).is_err());
        // Valid per country: the UK, a German mobile, a Brazilian mobile; a US number one
        // digit short is not.
        for valid in ["+442079460958", "+4915112345678", "+5511987654321"] {
            assert_eq!(phone(&json!(valid)).unwrap().as_deref(), Some(valid));
        }
        assert!(phone(&json!("+1201555012")).is_err());
        assert!(phone(&json!("+14155552671ext1")).is_err());
    }

    #[test]
    fn countries_urls_zones_languages() {
        assert_eq!(country(&json!("de")).unwrap().as_deref(), Some("DE"));
        assert!(country(&json!("XX")).is_err());
        assert!(country(&json!("DEU")).is_err());
        assert!(https_url(&json!("http://example.com/a.png")).is_err());
        assert!(https_url(&json!("javascript:alert(1)")).is_err());
        assert!(
            https_url(&json!("https://example.com/a.png"))
                .unwrap()
                .is_some()
        );
        assert_eq!(timezone(&json!("Europe/Berlin")).unwrap(), "Europe/Berlin");
        assert_eq!(timezone(&json!("europe/berlin")).unwrap(), "Europe/Berlin");
        assert!(timezone(&json!("Mars/Olympus")).is_err());
        assert_eq!(language(&json!("PT-br")).unwrap(), "pt-BR");
        assert!(language(&json!("xx")).unwrap_err().contains("zh-Hant"));
    }

    #[test]
    fn dates() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 10).unwrap();
        assert!(past_date(&json!("2000-02-29"), today).unwrap().is_some());
        assert!(past_date(&json!("2026-01-10"), today).is_err());
        assert!(past_date(&json!("10/01/2000"), today).is_err());
    }
}
