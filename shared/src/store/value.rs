//! The attribute values the single table holds, shared by both engines.
//!
//! The model mirrors DynamoDB's attribute types closely enough that the DynamoDB engine maps it
//! one to one, and small enough that the embedded engine can store an item as one JSON document.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One item: attribute name to value. Ordered so that encodings are deterministic.
pub type Item = BTreeMap<String, Value>;

/// An attribute value. Numbers keep their integer-ness: DynamoDB stores both as `N`, and a
/// number read back that has no fraction or exponent comes back as `Int`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Value {
    S(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    L(Vec<Value>),
    M(BTreeMap<String, Value>),
    /// A string set (DynamoDB `SS`); never empty, as in DynamoDB.
    Ss(BTreeSet<String>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Float(_))
    }

    /// Orders two values the way DynamoDB comparison operators do: numbers numerically, strings
    /// by UTF-8 bytes. Values of different types are not comparable (`None`).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::S(a), Value::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (a, b) if a.is_number() && b.is_number() => a.as_f64()?.partial_cmp(&b.as_f64()?),
            _ => None,
        }
    }

    /// Equality as DynamoDB's `=`: numbers numerically, everything else structurally.
    pub fn same_as(&self, other: &Value) -> bool {
        match (self, other) {
            (a, b) if a.is_number() && b.is_number() => a.compare(b) == Some(Ordering::Equal),
            (Value::S(a), Value::S(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Null, Value::Null) => true,
            (Value::L(a), Value::L(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
            }
            (Value::M(a), Value::M(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get(k).is_some_and(|w| v.same_as(w)))
            }
            (Value::Ss(a), Value::Ss(b)) => a == b,
            _ => false,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.same_as(other)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::S(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::S(s)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::Int(n.into())
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Int(n.into())
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// A time in the table: the one format, chrono's RFC 3339 in UTC with `Z` (the form serde
/// writes a `DateTime<Utc>` in, so a record stored whole reads back the same).
impl From<chrono::DateTime<chrono::Utc>> for Value {
    fn from(at: chrono::DateTime<chrono::Utc>) -> Self {
        match serde_json::to_value(at) {
            Ok(serde_json::Value::String(s)) => Value::S(s),
            _ => Value::S(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Value::S(s),
            serde_json::Value::Array(items) => {
                Value::L(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => {
                Value::M(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<&Value> for serde_json::Value {
    fn from(value: &Value) -> Self {
        match value {
            Value::S(s) => serde_json::Value::String(s.clone()),
            Value::Int(n) => serde_json::Value::from(*n),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Null => serde_json::Value::Null,
            Value::L(items) => serde_json::Value::Array(items.iter().map(Into::into).collect()),
            Value::M(map) => {
                serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), v.into())).collect())
            }
            Value::Ss(set) => serde_json::Value::Array(
                set.iter().cloned().map(serde_json::Value::String).collect(),
            ),
        }
    }
}

/// Error turning a record into an item or back.
#[derive(Debug, thiserror::Error)]
#[error("item does not match its record type: {0}")]
pub struct ItemShapeError(String);

/// Serialises a record (any `Serialize` struct) into item attributes. `None` fields are left out
/// rather than stored as NULL, so sparse index attributes stay sparse.
pub fn to_item<T: Serialize>(record: &T) -> Result<Item, ItemShapeError> {
    match serde_json::to_value(record).map_err(|e| ItemShapeError(e.to_string()))? {
        serde_json::Value::Object(map) => Ok(map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k, Value::from(v)))
            .collect()),
        other => Err(ItemShapeError(format!("expected an object, got {other}"))),
    }
}

/// Reads a record back from an item. Attributes the record does not name are ignored.
pub fn from_item<T: DeserializeOwned>(item: &Item) -> Result<T, ItemShapeError> {
    let map: serde_json::Map<String, serde_json::Value> =
        item.iter().map(|(k, v)| (k.clone(), v.into())).collect();
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ItemShapeError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_stored_as_serde_writes_them() {
        use chrono::TimeZone;
        let at = chrono::Utc.with_ymd_and_hms(2030, 3, 1, 10, 0, 0).unwrap();
        assert_eq!(Value::from(at), Value::S("2030-03-01T10:00:00Z".into()));
        let precise = at + chrono::Duration::microseconds(1500);
        let serde = serde_json::to_value(precise).unwrap();
        assert_eq!(Value::from(precise), Value::from(serde));
    }

    #[test]
    fn numbers_compare_across_int_and_float() {
        assert!(Value::Int(3).same_as(&Value::Float(3.0)));
        assert_eq!(
            Value::Int(2).compare(&Value::Float(2.5)),
            Some(Ordering::Less)
        );
        assert_eq!(Value::S("a".into()).compare(&Value::Int(1)), None);
    }

    #[test]
    fn records_round_trip_and_drop_nulls() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct R {
            a: String,
            n: i64,
            f: f64,
            o: Option<String>,
        }
        let r = R {
            a: "x".into(),
            n: 7,
            f: 1.5,
            o: None,
        };
        let item = to_item(&r).unwrap();
        assert!(!item.contains_key("o"));
        assert_eq!(from_item::<R>(&item).unwrap(), r);
    }
}
