//! Badge criteria: the typed document of the seed's five criteria types, and its validation.
//!
//! A criteria document is parsed in two steps so that a 400 names the exact path inside it:
//! the `type` tag picks the variant, then the rest of the object is read into that variant's
//! own strict shape through `serde_path_to_error` (serde's internally tagged enums buffer their
//! content and lose the path). Range rules are checked after the shape. What is stored and
//! returned is the normalised JSON of the typed value ([`Criteria::to_json`]).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use super::stats::{CounterField, DailyAction, Interaction};
use crate::activity::events::EventType;
use crate::error::{Error, FieldErrors};

/// Largest threshold or value a criterion may name (beyond any real counter).
pub const MAX_THRESHOLD: f64 = 1_000_000_000.0;
/// Longest streak a `consecutive_days` criterion may ask for (ten years).
pub use super::stats::MAX_DAYS;
/// Largest `count` / `min_count`.
pub const MAX_COUNT: u64 = 1_000_000_000;
/// Most requirements of one `multi_criteria`.
pub const MAX_REQUIREMENTS: usize = 20;
/// Quality scores are ratings from 0 to 5.
pub const MAX_QUALITY: f64 = 5.0;
/// Longest criteria description.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// A criteria document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Criteria {
    Counter {
        field: CounterField,
        #[serde(serialize_with = "whole_number")]
        threshold: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    ConsecutiveDays {
        action: DailyAction,
        days: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    MultiCriteria {
        requirements: Vec<Requirement>,
        #[serde(default)]
        logic: Logic,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    EventBased {
        #[serde(deserialize_with = "event_type")]
        event_type: EventType,
        count: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quality_threshold: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    SocialInteraction {
        interactions: Vec<Interaction>,
        min_count: u64,
        #[serde(default)]
        timeframe: Timeframe,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
}

/// One comparison of a `multi_criteria` document.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub field: CounterField,
    pub operator: Operator,
    #[serde(serialize_with = "whole_number")]
    pub value: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operator {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "!=")]
    Ne,
}

impl Operator {
    /// `have <op> want`.
    pub fn holds(self, have: f64, want: f64) -> bool {
        match self {
            Operator::Ge => have >= want,
            Operator::Le => have <= want,
            Operator::Eq => have == want,
            Operator::Gt => have > want,
            Operator::Lt => have < want,
            Operator::Ne => have != want,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Ge => ">=",
            Operator::Le => "<=",
            Operator::Eq => "==",
            Operator::Gt => ">",
            Operator::Lt => "<",
            Operator::Ne => "!=",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Logic {
    #[default]
    #[serde(rename = "AND")]
    And,
    #[serde(rename = "OR")]
    Or,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timeframe {
    #[default]
    #[serde(rename = "all_time")]
    AllTime,
    #[serde(rename = "30d")]
    Last30Days,
    #[serde(rename = "7d")]
    Last7Days,
}

impl Timeframe {
    /// The window in days (`None`: all time).
    pub fn days(self) -> Option<i64> {
        match self {
            Timeframe::AllTime => None,
            Timeframe::Last30Days => Some(30),
            Timeframe::Last7Days => Some(7),
        }
    }
}

impl Criteria {
    /// The normalised JSON document (what is stored and returned).
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }

    /// The criteria's own description, if it has one.
    pub fn description(&self) -> Option<&str> {
        match self {
            Criteria::Counter { description, .. }
            | Criteria::ConsecutiveDays { description, .. }
            | Criteria::MultiCriteria { description, .. }
            | Criteria::EventBased { description, .. }
            | Criteria::SocialInteraction { description, .. } => description.as_deref(),
        }
    }

    /// The type tag (`counter`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Criteria::Counter { .. } => "counter",
            Criteria::ConsecutiveDays { .. } => "consecutive_days",
            Criteria::MultiCriteria { .. } => "multi_criteria",
            Criteria::EventBased { .. } => "event_based",
            Criteria::SocialInteraction { .. } => "social_interaction",
        }
    }
}

/// Numbers that are whole are written as integers (`10`, not `10.0`), so the stored and
/// returned document reads the way clients wrote it.
fn whole_number<S: Serializer>(n: &f64, s: S) -> Result<S::Ok, S::Error> {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        s.serialize_i64(*n as i64)
    } else {
        s.serialize_f64(*n)
    }
}

/// Event types by their stored names or the seed's short names (`review`, `like`).
fn event_type<'de, D: Deserializer<'de>>(d: D) -> Result<EventType, D::Error> {
    let name = String::deserialize(d)?;
    EventType::parse(&name)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown event type `{name}`")))
}

/// The strict shapes of each type (the document without its `type`), read with paths.
mod shapes {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Counter {
        pub field: CounterField,
        pub threshold: f64,
        #[serde(default)]
        pub description: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ConsecutiveDays {
        pub action: DailyAction,
        pub days: u32,
        #[serde(default)]
        pub description: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct MultiCriteria {
        pub requirements: Vec<Requirement>,
        #[serde(default)]
        pub logic: Logic,
        #[serde(default)]
        pub description: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct EventBased {
        #[serde(deserialize_with = "event_type")]
        pub event_type: EventType,
        pub count: u64,
        #[serde(default)]
        pub quality_threshold: Option<f64>,
        #[serde(default)]
        pub description: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SocialInteraction {
        pub interactions: Vec<Interaction>,
        pub min_count: u64,
        #[serde(default)]
        pub timeframe: Timeframe,
        #[serde(default)]
        pub description: Option<String>,
    }
}

const TYPES: [&str; 5] = [
    "counter",
    "consecutive_days",
    "multi_criteria",
    "event_based",
    "social_interaction",
];

/// The field key of a path inside the document: `criteria`, `criteria.days`,
/// `criteria.requirements[1].operator`.
fn field_key(path: &str) -> String {
    if path.is_empty() || path == "." {
        "criteria".to_owned()
    } else {
        format!("criteria.{path}")
    }
}

/// Reads `doc` as `T`, turning a shape error into a 400 at its path.
fn shaped<T: DeserializeOwned>(doc: Json) -> Result<T, Error> {
    serde_path_to_error::deserialize::<_, T>(doc).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names the unknown or missing field in the message, not in the path.
        let quoted = inner.split('`').nth(1).unwrap_or_default().to_owned();
        let (path, message) = if inner.starts_with("unknown field") {
            (join(&path, &quoted), "Unknown field.".to_owned())
        } else if inner.starts_with("missing field") {
            (join(&path, &quoted), "This field is required.".to_owned())
        } else {
            (path, clean_message(&inner))
        };
        Error::field(&field_key(&path), message)
    })
}

/// `path.field`, unless the path already ends at that field.
fn join(path: &str, field: &str) -> String {
    if path == field || path.ends_with(&format!(".{field}")) {
        path.to_owned()
    } else if path.is_empty() || path == "." {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// serde's message without its position suffix.
fn clean_message(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    let mut out = message.to_owned();
    if let Some(first) = out.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// Validates a criteria document: shape (known type, fields, vocabulary) then ranges. A 400
/// names the path inside `criteria`.
pub fn parse_criteria(value: &Json) -> Result<Criteria, Error> {
    let Json::Object(map) = value else {
        return Err(Error::field(
            "criteria",
            "Expected an object with a `type`.",
        ));
    };
    let mut rest = map.clone();
    let type_name = match rest.remove("type") {
        Some(Json::String(t)) => t,
        Some(_) => return Err(Error::field("criteria.type", "Expected a string.")),
        None => return Err(Error::field("criteria.type", "This field is required.")),
    };
    let doc = Json::Object(rest);
    let criteria = match type_name.as_str() {
        "counter" => {
            let s: shapes::Counter = shaped(doc)?;
            Criteria::Counter {
                field: s.field,
                threshold: s.threshold,
                description: s.description,
            }
        }
        "consecutive_days" => {
            let s: shapes::ConsecutiveDays = shaped(doc)?;
            Criteria::ConsecutiveDays {
                action: s.action,
                days: s.days,
                description: s.description,
            }
        }
        "multi_criteria" => {
            let s: shapes::MultiCriteria = shaped(doc)?;
            Criteria::MultiCriteria {
                requirements: s.requirements,
                logic: s.logic,
                description: s.description,
            }
        }
        "event_based" => {
            let s: shapes::EventBased = shaped(doc)?;
            Criteria::EventBased {
                event_type: s.event_type,
                count: s.count,
                quality_threshold: s.quality_threshold,
                description: s.description,
            }
        }
        "social_interaction" => {
            let s: shapes::SocialInteraction = shaped(doc)?;
            Criteria::SocialInteraction {
                interactions: s.interactions,
                min_count: s.min_count,
                timeframe: s.timeframe,
                description: s.description,
            }
        }
        other => {
            return Err(Error::field(
                "criteria.type",
                format!(
                    "`{other}` is not a criteria type; expected one of {}.",
                    TYPES.join(", ")
                ),
            ));
        }
    };
    check_ranges(&criteria)?;
    Ok(criteria)
}

fn threshold_ok(n: f64) -> bool {
    n.is_finite() && (0.0..=MAX_THRESHOLD).contains(&n)
}

/// The rules serde cannot express: ranges, non-empty lists, no duplicates.
fn check_ranges(criteria: &Criteria) -> Result<(), Error> {
    let mut errors = FieldErrors::new();
    if let Some(d) = criteria.description()
        && d.chars().count() > MAX_DESCRIPTION_CHARS
    {
        errors.add(
            "criteria.description",
            format!("Ensure this field has no more than {MAX_DESCRIPTION_CHARS} characters."),
        );
    }
    match criteria {
        Criteria::Counter { threshold, .. } => {
            if !threshold_ok(*threshold) || *threshold == 0.0 {
                errors.add(
                    "criteria.threshold",
                    format!("Enter a number greater than 0 and at most {MAX_THRESHOLD}."),
                );
            }
        }
        Criteria::ConsecutiveDays { days, .. } => {
            if !(1..=MAX_DAYS).contains(days) {
                errors.add(
                    "criteria.days",
                    format!("Enter a whole number from 1 to {MAX_DAYS}."),
                );
            }
        }
        Criteria::MultiCriteria { requirements, .. } => {
            check_requirements(&mut errors, requirements);
        }
        Criteria::EventBased {
            count,
            quality_threshold,
            ..
        } => check_event_count(&mut errors, *count, *quality_threshold),
        Criteria::SocialInteraction {
            interactions,
            min_count,
            ..
        } => check_interactions(&mut errors, interactions, *min_count),
    }
    errors.into_result()
}

/// `multi_criteria`: one to [`MAX_REQUIREMENTS`] requirements, each value within
/// ±[`MAX_THRESHOLD`].
fn check_requirements(errors: &mut FieldErrors, requirements: &[Requirement]) {
    if requirements.is_empty() {
        errors.add(
            "criteria.requirements",
            "At least one requirement is needed.",
        );
    } else if requirements.len() > MAX_REQUIREMENTS {
        errors.add(
            "criteria.requirements",
            format!("At most {MAX_REQUIREMENTS} requirements."),
        );
    }
    for (i, r) in requirements.iter().enumerate() {
        if !r.value.is_finite() || r.value.abs() > MAX_THRESHOLD {
            errors.add(
                &format!("criteria.requirements[{i}].value"),
                format!("Enter a number from -{MAX_THRESHOLD} to {MAX_THRESHOLD}."),
            );
        }
    }
}

/// `event_based`: a count from 1 to [`MAX_COUNT`], a quality threshold (if any) from 0 to
/// [`MAX_QUALITY`].
fn check_event_count(errors: &mut FieldErrors, count: u64, quality_threshold: Option<f64>) {
    if !(1..=MAX_COUNT).contains(&count) {
        errors.add(
            "criteria.count",
            format!("Enter a whole number from 1 to {MAX_COUNT}."),
        );
    }
    if let Some(q) = quality_threshold
        && !(q.is_finite() && (0.0..=MAX_QUALITY).contains(&q))
    {
        errors.add(
            "criteria.quality_threshold",
            format!("Enter a number from 0 to {MAX_QUALITY}."),
        );
    }
}

/// `social_interaction`: at least one interaction, none twice, a minimum count from 1 to
/// [`MAX_COUNT`].
fn check_interactions(errors: &mut FieldErrors, interactions: &[Interaction], min_count: u64) {
    if interactions.is_empty() {
        errors.add(
            "criteria.interactions",
            "At least one interaction is needed.",
        );
    }
    for (i, x) in interactions.iter().enumerate() {
        if interactions[..i].contains(x) {
            errors.add(
                &format!("criteria.interactions[{i}]"),
                "Duplicate interaction.",
            );
        }
    }
    if !(1..=MAX_COUNT).contains(&min_count) {
        errors.add(
            "criteria.min_count",
            format!("Enter a whole number from 1 to {MAX_COUNT}."),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(err: Error) -> Vec<String> {
        match err {
            Error::Invalid(f) => f.0.into_keys().collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn paths_point_inside_the_document() {
        let bad = json!({"type": "multi_criteria", "requirements": [
            {"field": "posts_count", "operator": ">=", "value": 1},
            {"field": "posts_count", "operator": "=>", "value": 1}]});
        assert_eq!(
            field_of(parse_criteria(&bad).unwrap_err()),
            ["criteria.requirements[1].operator"]
        );
        let unknown = json!({"type": "counter", "field": "posts_count", "threshold": 1, "x": 1});
        assert_eq!(
            field_of(parse_criteria(&unknown).unwrap_err()),
            ["criteria.x"]
        );
        let missing = json!({"type": "counter", "field": "posts_count"});
        assert_eq!(
            field_of(parse_criteria(&missing).unwrap_err()),
            ["criteria.threshold"]
        );
    }

    #[test]
    fn normalised_json_round_trips() {
        let doc = json!({"type": "event_based", "event_type": "review", "count": 10,
            "quality_threshold": 4.0});
        let c = parse_criteria(&doc).unwrap();
        let stored = c.to_json();
        assert_eq!(stored["event_type"], "review_create");
        assert_eq!(stored["quality_threshold"].as_f64(), Some(4.0));
        assert_eq!(parse_criteria(&stored).unwrap(), c);
        let back: Criteria = serde_json::from_value(stored).unwrap();
        assert_eq!(back, c);
    }
}
