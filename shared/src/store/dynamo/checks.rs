//! The checks DynamoDB makes on what is written, made before the call: the same errors come
//! back without a round trip, and moto, which skips several of them, cannot hide a write that
//! production would refuse.

use std::collections::BTreeMap;

use crate::store::keys::{Index, attr};
use crate::store::{Item, Key, StoreError, StoreResult, Update, UpdateAction, Value};

/// DynamoDB's limits on key attribute values, in UTF-8 bytes (table and index keys alike).
const MAX_PARTITION_KEY_BYTES: usize = 2048;
const MAX_SORT_KEY_BYTES: usize = 1024;
/// DynamoDB's limit on one item.
const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's limit on nested lists and maps.
const MAX_NESTING: usize = 32;

fn invalid(msg: String) -> StoreError {
    StoreError::Validation(msg)
}

/// A key: both parts non-empty and within DynamoDB's size limits.
pub(super) fn check_key(key: &Key) -> StoreResult<()> {
    check_key_value(attr::PK, &key.pk)?;
    check_key_value(attr::SK, &key.sk)
}

/// The largest value a key attribute may hold, for the table's and the indexes' key
/// attributes; `None` for other attributes.
fn key_limit(name: &str) -> Option<usize> {
    let (gsi_pks, gsi_sks) = (
        Index::GSIS.map(|i| i.key_attrs().0),
        Index::GSIS.map(|i| i.key_attrs().1),
    );
    if name == attr::PK || gsi_pks.contains(&name) {
        Some(MAX_PARTITION_KEY_BYTES)
    } else if name == attr::SK || gsi_sks.contains(&name) {
        Some(MAX_SORT_KEY_BYTES)
    } else {
        None
    }
}

fn check_key_value(name: &str, value: &str) -> StoreResult<()> {
    let max = key_limit(name).unwrap_or(MAX_PARTITION_KEY_BYTES);
    if value.is_empty() {
        return Err(invalid(format!(
            "key attribute {name} cannot be an empty string"
        )));
    }
    if value.len() > max {
        return Err(invalid(format!(
            "key attribute {name} is longer than {max} bytes"
        )));
    }
    Ok(())
}

/// A whole item as `PutItem` writes it; returns its key.
pub(super) fn check_item(item: &Item) -> StoreResult<Key> {
    let key =
        Key::of(item).ok_or_else(|| invalid("an item needs string PK and SK attributes".into()))?;
    check_key(&key)?;
    for (name, value) in item {
        check_attribute(name, value)?;
    }
    let size: usize = item
        .iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum();
    if size > MAX_ITEM_BYTES {
        return Err(invalid(format!(
            "the item is larger than {MAX_ITEM_BYTES} bytes"
        )));
    }
    Ok(key)
}

/// An update: its key, and what each action writes. The item's size after the update depends
/// on what is stored, so only what the update alone certainly makes too large is refused here;
/// DynamoDB refuses the rest itself.
pub(super) fn check_update(key: &Key, update: &Update) -> StoreResult<()> {
    check_key(key)?;
    let mut least = key.pk.len() + key.sk.len() + attr::PK.len() + attr::SK.len();
    for action in &update.actions {
        match action {
            UpdateAction::Set(name, value) | UpdateAction::SetIfMissing(name, value) => {
                check_not_table_key(name)?;
                check_attribute(name, value)?;
                if matches!(action, UpdateAction::Set(..)) {
                    least += name.len() + value_size(value);
                }
            }
            UpdateAction::Add(name, value) => {
                check_not_table_key(name)?;
                check_attribute(name, value)?;
            }
            UpdateAction::Remove(name) => check_not_table_key(name)?,
        }
    }
    if least > MAX_ITEM_BYTES {
        return Err(invalid(format!(
            "the update makes the item larger than {MAX_ITEM_BYTES} bytes"
        )));
    }
    Ok(())
}

fn check_not_table_key(name: &str) -> StoreResult<()> {
    if name == attr::PK || name == attr::SK {
        return Err(invalid(format!(
            "an update cannot change key attribute {name}"
        )));
    }
    Ok(())
}

/// One attribute of a written item: a non-empty name, a value DynamoDB can hold, and, for an
/// index key attribute, a non-empty string within the key size limits (the table declares
/// every key attribute `S`).
fn check_attribute(name: &str, value: &Value) -> StoreResult<()> {
    if name.is_empty() {
        return Err(invalid("attribute names cannot be empty".into()));
    }
    if key_limit(name).is_some() {
        return match value {
            Value::S(s) => check_key_value(name, s),
            _ => Err(invalid(format!("key attribute {name} must be a string"))),
        };
    }
    check_value(name, value, 0)
}

fn check_value(name: &str, value: &Value, depth: usize) -> StoreResult<()> {
    match value {
        Value::Float(f) if !f.is_finite() => Err(invalid(format!(
            "attribute {name}: NaN and infinity are not numbers"
        ))),
        Value::Ss(set) if set.is_empty() => Err(invalid(format!(
            "attribute {name}: a string set cannot be empty"
        ))),
        Value::L(_) | Value::M(_) if depth >= MAX_NESTING => Err(invalid(format!(
            "attribute {name} nests deeper than {MAX_NESTING}"
        ))),
        Value::L(items) => items
            .iter()
            .try_for_each(|v| check_value(name, v, depth + 1)),
        Value::M(map) => map
            .values()
            .try_for_each(|v| check_value(name, v, depth + 1)),
        _ => Ok(()),
    }
}

/// A lower bound of the size DynamoDB counts for a value (its documented sizes, leaving out
/// the per-element byte of lists and maps), so that nothing DynamoDB accepts is refused.
fn value_size(value: &Value) -> usize {
    match value {
        Value::S(s) => s.len(),
        Value::Int(n) => number_size(&n.to_string()),
        Value::Float(f) => number_size(&f.to_string()),
        Value::Bool(_) | Value::Null => 1,
        Value::L(items) => 3 + items.iter().map(value_size).sum::<usize>(),
        Value::M(map) => 3 + map_size(map),
        Value::Ss(set) => set.iter().map(String::len).sum(),
    }
}

fn map_size(map: &BTreeMap<String, Value>) -> usize {
    map.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// One byte per two significant digits, plus one.
fn number_size(text: &str) -> usize {
    let digits = text
        .trim_start_matches('-')
        .trim_matches('0')
        .chars()
        .filter(char::is_ascii_digit)
        .count();
    digits.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(attrs: &[(&str, Value)]) -> Item {
        let mut item = Key::new("P", "S").to_item();
        for (name, value) in attrs {
            item.insert((*name).to_owned(), value.clone());
        }
        item
    }

    fn rejected<T: std::fmt::Debug>(result: StoreResult<T>) -> bool {
        matches!(result, Err(StoreError::Validation(_)))
    }

    #[test]
    fn keys_are_non_empty_and_bounded() {
        assert!(check_key(&Key::new("p".repeat(2048), "s".repeat(1024))).is_ok());
        assert!(rejected(check_key(&Key::new("", "s"))));
        assert!(rejected(check_key(&Key::new("p", ""))));
        assert!(rejected(check_key(&Key::new("p".repeat(2049), "s"))));
        assert!(rejected(check_key(&Key::new("p", "s".repeat(1025)))));
    }

    #[test]
    fn items_need_string_keys_and_valid_index_keys() {
        assert_eq!(check_item(&item(&[])).unwrap(), Key::new("P", "S"));
        assert!(rejected(check_item(&item(&[("PK", Value::Int(1))]))));
        let mut no_sk = item(&[]);
        no_sk.remove("SK");
        assert!(rejected(check_item(&no_sk)));
        for bad in [
            Value::Int(1),
            Value::Bool(true),
            Value::S(String::new()),
            Value::Null,
        ] {
            for name in ["GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"] {
                assert!(
                    rejected(check_item(&item(&[(name, bad.clone())]))),
                    "{name} {bad:?}"
                );
            }
        }
        assert!(check_item(&item(&[("GSI1PK", "g".into()), ("GSI1SK", "1".into())])).is_ok());
        assert!(rejected(check_item(&item(&[(
            "GSI2SK",
            "s".repeat(1025).into()
        )]))));
        assert!(rejected(check_item(&item(&[("", Value::Int(1))]))));
        assert!(rejected(check_item(&item(&[(
            "f",
            Value::Float(f64::NAN)
        )]))));
        assert!(rejected(check_item(&item(&[(
            "ss",
            Value::Ss(Default::default())
        )]))));
    }

    #[test]
    fn item_size_is_bounded_without_refusing_what_fits() {
        assert!(check_item(&item(&[("blob", "x".repeat(300 * 1024).into())])).is_ok());
        assert!(check_item(&item(&[("blob", "x".repeat(MAX_ITEM_BYTES - 100).into())])).is_ok());
        assert!(rejected(check_item(&item(&[(
            "blob",
            "x".repeat(410 * 1024).into()
        )]))));
        let list = Value::L(vec!["x".repeat(1024).into(); 401]);
        assert!(rejected(check_item(&item(&[("l", list)]))));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut deep = Value::Int(1);
        for _ in 0..MAX_NESTING {
            deep = Value::L(vec![deep]);
        }
        assert!(check_item(&item(&[("d", deep.clone())])).is_ok());
        assert!(rejected(check_item(&item(&[("d", Value::L(vec![deep]))]))));
    }

    #[test]
    fn updates_cannot_touch_keys_or_break_index_keys() {
        let k = Key::new("P", "S");
        assert!(check_update(&k, &Update::new().set("v", 1).remove("w").add("n", 1)).is_ok());
        assert!(rejected(check_update(
            &Key::new("", "S"),
            &Update::new().set("v", 1)
        )));
        assert!(rejected(check_update(&k, &Update::new().set("PK", "x"))));
        assert!(rejected(check_update(&k, &Update::new().remove("SK"))));
        assert!(rejected(check_update(&k, &Update::new().set("GSI1PK", ""))));
        assert!(rejected(check_update(
            &k,
            &Update::new().set_if_missing("GSI2SK", 1)
        )));
        assert!(rejected(check_update(&k, &Update::new().add("GSI1SK", 1))));
        assert!(check_update(&k, &Update::new().set("GSI1PK", "g").remove("GSI1SK")).is_ok());
        let big = Update::new().set("blob", "x".repeat(410 * 1024));
        assert!(rejected(check_update(&k, &big)));
        // What SET if missing writes depends on the stored item: not counted.
        let maybe = Update::new().set_if_missing("blob", "x".repeat(410 * 1024));
        assert!(check_update(&k, &maybe).is_ok());
    }

    #[test]
    fn number_sizes_follow_significant_digits() {
        assert_eq!(number_size("0"), 1);
        assert_eq!(number_size("-12345"), 4);
        assert_eq!(number_size("1000"), 2);
        assert_eq!(number_size("0.25"), 2);
    }
}
