//! Mapping between the port's values, keys and cursors and DynamoDB's wire types.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::store::keys::attr;
use crate::store::{Cursor, Index, Item, Key, StoreError, StoreResult, Value};

/// An item or key as the SDK carries it.
pub(super) type AttrMap = HashMap<String, AttributeValue>;

/// Converts a value for the wire. Numbers that DynamoDB cannot hold (NaN, infinities) are a
/// validation error rather than a corrupted item.
pub(super) fn to_attr(value: &Value) -> StoreResult<AttributeValue> {
    Ok(match value {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::Int(n) => AttributeValue::N(n.to_string()),
        Value::Float(f) => AttributeValue::N(format_float(*f)?),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
        Value::L(items) => {
            AttributeValue::L(items.iter().map(to_attr).collect::<StoreResult<_>>()?)
        }
        Value::M(map) => AttributeValue::M(to_attr_map(map)?),
        Value::Ss(set) => AttributeValue::Ss(set.iter().cloned().collect()),
    })
}

pub(super) fn to_attr_map(item: &BTreeMap<String, Value>) -> StoreResult<AttrMap> {
    item.iter()
        .map(|(k, v)| Ok((k.clone(), to_attr(v)?)))
        .collect()
}

/// Writes a float as a DynamoDB number string. Rust's `Display` is the shortest exact form but
/// never uses an exponent, so very large or very small magnitudes switch to `e` notation to
/// stay within DynamoDB's 38 significant digits.
pub(super) fn format_float(f: f64) -> StoreResult<String> {
    if !f.is_finite() {
        return Err(StoreError::Validation("numbers must be finite".into()));
    }
    if f == 0.0 {
        return Ok("0".into());
    }
    let magnitude = f.abs();
    if (1e-6..1e21).contains(&magnitude) {
        Ok(f.to_string())
    } else {
        Ok(format!("{f:e}"))
    }
}

/// Reads a DynamoDB number: an integer when it is written as one and fits in `i64`, else a
/// float.
pub(crate) fn parse_number(n: &str) -> StoreResult<Value> {
    if !n.contains(['.', 'e', 'E'])
        && let Ok(i) = n.parse::<i64>()
    {
        return Ok(Value::Int(i));
    }
    n.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Value::Float)
        .ok_or_else(|| StoreError::Backend("DynamoDB returned an unreadable number".into()))
}

pub(super) fn from_attr(value: AttributeValue) -> StoreResult<Value> {
    Ok(match value {
        AttributeValue::S(s) => Value::S(s),
        AttributeValue::N(n) => parse_number(&n)?,
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(items) => Value::L(
            items
                .into_iter()
                .map(from_attr)
                .collect::<StoreResult<_>>()?,
        ),
        AttributeValue::M(map) => Value::M(from_attr_map(map)?),
        AttributeValue::Ss(set) => Value::Ss(set.into_iter().collect::<BTreeSet<_>>()),
        // Binary and number sets are never written through the port.
        _ => {
            return Err(StoreError::Backend(
                "DynamoDB returned an attribute type the store does not use".into(),
            ));
        }
    })
}

pub(super) fn from_attr_map(map: AttrMap) -> StoreResult<Item> {
    map.into_iter()
        .map(|(k, v)| Ok((k, from_attr(v)?)))
        .collect()
}

pub(super) fn key_to_attrs(key: &Key) -> AttrMap {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (attr::SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Encodes a `LastEvaluatedKey` as the port's cursor; `None` when there is no further page.
pub(super) fn cursor_from_last_key(last: Option<AttrMap>) -> StoreResult<Option<Cursor>> {
    let Some(last) = last.filter(|m| !m.is_empty()) else {
        return Ok(None);
    };
    let attrs = last
        .into_iter()
        .map(|(name, value)| match value {
            AttributeValue::S(s) => Ok((name, s)),
            _ => Err(StoreError::Backend(
                "DynamoDB returned a last evaluated key with a non-string attribute".into(),
            )),
        })
        .collect::<StoreResult<BTreeMap<_, _>>>()?;
    Ok(Some(Cursor::from_key_attrs(&attrs)))
}

/// Decodes a cursor into an `ExclusiveStartKey` for `index`. It must name exactly the table key
/// and the index key, and, for a query, start inside the queried partition: anything else was
/// not made by this query and is rejected as bad input.
pub(super) fn start_key(
    cursor: &Cursor,
    index: Index,
    partition: Option<&str>,
) -> StoreResult<AttrMap> {
    let attrs = cursor.key_attrs()?;
    let (hash, range) = index.key_attrs();
    let expected: BTreeSet<&str> = [attr::PK, attr::SK, hash, range].into_iter().collect();
    if attrs.len() != expected.len() || !attrs.keys().all(|k| expected.contains(k.as_str())) {
        return Err(StoreError::BadCursor("not made for this index".into()));
    }
    if let Some(pk) = partition
        && attrs.get(hash).map(String::as_str) != Some(pk)
    {
        return Err(StoreError::BadCursor(
            "it belongs to a different query".into(),
        ));
    }
    Ok(attrs
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_integer_ness() {
        assert_eq!(parse_number("42").unwrap().as_i64(), Some(42));
        assert!(matches!(parse_number("-7").unwrap(), Value::Int(-7)));
        assert!(matches!(parse_number("1.5").unwrap(), Value::Float(f) if f == 1.5));
        assert!(matches!(parse_number("1e3").unwrap(), Value::Float(f) if f == 1000.0));
        assert!(matches!(parse_number("2E2").unwrap(), Value::Float(f) if f == 200.0));
        // Too large for i64: a float, not an error.
        assert!(matches!(
            parse_number("123456789012345678901234").unwrap(),
            Value::Float(_)
        ));
        assert!(parse_number("abc").is_err());
        assert!(parse_number("1e999").is_err());
    }

    #[test]
    fn floats_format_for_dynamodb() {
        assert_eq!(format_float(1.5).unwrap(), "1.5");
        assert_eq!(format_float(-0.0).unwrap(), "0");
        assert_eq!(format_float(1e300).unwrap(), "1e300");
        assert_eq!(format_float(2.5e-10).unwrap(), "2.5e-10");
        assert!(matches!(
            format_float(f64::NAN),
            Err(StoreError::Validation(_))
        ));
        assert!(matches!(
            format_float(f64::INFINITY),
            Err(StoreError::Validation(_))
        ));
        for f in [0.1, 123.456, 1e300, -3.25e-9] {
            let back = parse_number(&format_float(f).unwrap()).unwrap();
            assert_eq!(back.as_f64(), Some(f));
        }
    }

    #[test]
    fn values_round_trip() {
        let mut inner = BTreeMap::new();
        inner.insert("x".to_owned(), Value::Int(1));
        let values = [
            Value::S("s".into()),
            Value::Int(i64::MIN),
            Value::Float(0.25),
            Value::Bool(true),
            Value::Null,
            Value::L(vec![Value::Int(1), Value::S("a".into())]),
            Value::M(inner),
            Value::Ss(["a".to_owned(), "b".to_owned()].into_iter().collect()),
        ];
        for v in values {
            let back = from_attr(to_attr(&v).unwrap()).unwrap();
            assert!(back.same_as(&v), "{v:?} came back as {back:?}");
        }
        assert!(matches!(
            to_attr(&Value::Null).unwrap(),
            AttributeValue::Null(true)
        ));
        assert!(matches!(to_attr(&Value::Int(3)).unwrap(), AttributeValue::N(n) if n == "3"));
    }

    #[test]
    fn unused_types_are_errors_not_panics() {
        let ns = AttributeValue::Ns(vec!["1".into()]);
        assert!(matches!(from_attr(ns), Err(StoreError::Backend(_))));
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[test]
    fn cursors_round_trip_through_last_evaluated_key() {
        let last: AttrMap = HashMap::from([
            ("PK".to_owned(), s("USER#1")),
            ("SK".to_owned(), s("FOLLOWS#2")),
            ("GSI1PK".to_owned(), s("USER#2")),
            ("GSI1SK".to_owned(), s("FOLLOWER#1")),
        ]);
        let cursor = cursor_from_last_key(Some(last.clone())).unwrap().unwrap();
        let back = start_key(&cursor, Index::Gsi1, Some("USER#2")).unwrap();
        assert_eq!(back, last);
        // Same cursor, wrong index or partition: rejected as a bad cursor.
        let err = start_key(&cursor, Index::Primary, None).unwrap_err();
        assert!(matches!(err, StoreError::BadCursor(_)));
        let err = start_key(&cursor, Index::Gsi1, Some("USER#3")).unwrap_err();
        assert!(matches!(err, StoreError::BadCursor(_)));
        let err = start_key(&cursor, Index::Gsi2, None).unwrap_err();
        assert!(matches!(err, StoreError::BadCursor(_)));
    }

    #[test]
    fn malformed_cursors_are_validation_errors() {
        for raw in ["!!!", "bm90IGpzb24", ""] {
            let err = start_key(&Cursor::from_client(raw), Index::Primary, None).unwrap_err();
            assert!(matches!(err, StoreError::BadCursor(_)), "{raw}");
        }
    }

    #[test]
    fn no_last_key_means_no_cursor() {
        assert!(cursor_from_last_key(None).unwrap().is_none());
        assert!(
            cursor_from_last_key(Some(HashMap::new()))
                .unwrap()
                .is_none()
        );
        let bad = HashMap::from([("PK".to_owned(), AttributeValue::N("1".into()))]);
        assert!(matches!(
            cursor_from_last_key(Some(bad)),
            Err(StoreError::Backend(_))
        ));
    }
}
