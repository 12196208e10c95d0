//! DynamoDB's limits on what is written, checked by both engines before they write: by the
//! embedded engine so that local runs fail where production would, by the DynamoDB engine so
//! that the same errors come back without a round trip and moto, which skips several of these
//! checks, cannot hide a write that production would refuse.

use std::collections::HashSet;

use super::keys::{Index, attr};
use super::table::{Key, MAX_TRANSACTION_OPS, StoreError, StoreResult, TxOp, Update, UpdateAction};
use super::value::{Item, Value};

/// DynamoDB's limits on key attribute values, in UTF-8 bytes (table and index keys alike).
const MAX_PARTITION_KEY_BYTES: usize = 2048;
const MAX_SORT_KEY_BYTES: usize = 1024;
/// DynamoDB's limit on one item.
const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's limit on nested lists and maps. It also keeps the embedded engine's JSON bodies
/// well inside serde_json's recursion limit, so whatever is written can be read back.
const MAX_NESTING: usize = 32;

/// How a written item's size is counted against DynamoDB's 400 KB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sizing {
    /// By DynamoDB's documented rules ([`size_of`]): for the embedded engine, which enforces the
    /// limit itself (which the Lambda functions leave out), and for the heat recorder.
    Documented,
    /// A lower bound of that (no byte per list or map element, zero as no digit): for the
    /// DynamoDB engine, whose early check must never refuse what DynamoDB itself accepts.
    LowerBound,
}

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::Validation(msg.into())
}

/// A key: both parts non-empty and within DynamoDB's size limits.
pub(crate) fn check_key(key: &Key) -> StoreResult<()> {
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

/// A whole item as a put writes it; returns its key. Index key attributes, when present, are
/// checked to be valid index keys, so an item that passes can be indexed as it is.
pub(crate) fn check_item(item: &Item, sizing: Sizing) -> StoreResult<Key> {
    let key = Key::of(item).ok_or_else(|| invalid("an item needs string PK and SK attributes"))?;
    check_key(&key)?;
    for (name, value) in item {
        check_attribute(name, value)?;
    }
    if size_of(item, sizing) > MAX_ITEM_BYTES {
        return Err(invalid(format!(
            "the item is larger than {MAX_ITEM_BYTES} bytes"
        )));
    }
    Ok(key)
}

/// An update: its key, and what DynamoDB checks in an update expression before it looks at
/// the item (see [`check_actions`]). The item's size after the update depends on what is
/// stored, so only what the update alone certainly makes too large is refused here.
pub(crate) fn check_update(key: &Key, update: &Update) -> StoreResult<()> {
    check_key(key)?;
    check_actions(update)?;
    let mut least = key.pk.len() + key.sk.len() + attr::PK.len() + attr::SK.len();
    for action in &update.actions {
        // What SET if missing writes depends on the stored item: not counted.
        if let UpdateAction::Set(name, value) = action {
            least += name.len() + value_size(value, Sizing::LowerBound);
        }
    }
    if least > MAX_ITEM_BYTES {
        return Err(invalid(format!(
            "the update makes the item larger than {MAX_ITEM_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The actions of an update: one action per attribute, never on `PK` or `SK`, ADD of a number
/// only (the port's ADD is numeric), and values an item can hold.
pub(crate) fn check_actions(update: &Update) -> StoreResult<()> {
    let mut seen = HashSet::new();
    for action in &update.actions {
        let (name, value) = match action {
            UpdateAction::Set(name, value) | UpdateAction::SetIfMissing(name, value) => {
                (name, Some(value))
            }
            UpdateAction::Add(name, delta) => {
                if !delta.is_number() {
                    return Err(invalid(format!("ADD needs a number: attribute {name}")));
                }
                (name, Some(delta))
            }
            UpdateAction::Remove(name) => (name, None),
        };
        if name == attr::PK || name == attr::SK {
            return Err(invalid(format!(
                "an update cannot change key attribute {name}"
            )));
        }
        match value {
            Some(value) => check_attribute(name, value)?,
            None => check_name(name)?,
        }
        if !seen.insert(name.as_str()) {
            return Err(invalid(format!(
                "an update names attribute {name} more than once"
            )));
        }
    }
    Ok(())
}

/// A transaction before any item is read: at most [`MAX_TRANSACTION_OPS`] operations, each
/// valid on its own, no item named twice, and no update without an action (DynamoDB has no
/// transactional update without an update expression).
pub(crate) fn check_transaction(ops: &[TxOp], sizing: Sizing) -> StoreResult<()> {
    if ops.len() > MAX_TRANSACTION_OPS {
        return Err(invalid(format!(
            "a transaction holds at most {MAX_TRANSACTION_OPS} operations, not {}",
            ops.len()
        )));
    }
    let mut seen = HashSet::new();
    for op in ops {
        let key = match op {
            TxOp::Put { item, .. } => check_item(item, sizing)?,
            TxOp::Update { key, update, .. } => {
                check_update(key, update)?;
                if update.is_empty() {
                    return Err(invalid("an update in a transaction needs an action"));
                }
                key.clone()
            }
            TxOp::Delete { key, .. } | TxOp::Check { key, .. } => {
                check_key(key)?;
                key.clone()
            }
        };
        if !seen.insert(key) {
            return Err(invalid("a transaction names one item more than once"));
        }
    }
    Ok(())
}

fn check_name(name: &str) -> StoreResult<()> {
    if name.is_empty() {
        return Err(invalid("attribute names cannot be empty"));
    }
    Ok(())
}

/// One attribute of a written item: a non-empty name, a value DynamoDB can hold, and, for a
/// key attribute, a non-empty string within the key size limits (the table declares every
/// key attribute `S`).
fn check_attribute(name: &str, value: &Value) -> StoreResult<()> {
    check_name(name)?;
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

/// An item's size. By DynamoDB's documented rules, attribute names and strings count their
/// UTF-8 bytes, a number one byte per two significant digits plus one, a boolean or null one
/// byte, a list or map three bytes plus one per element (a map's element names count too).
/// An item's size in bytes by DynamoDB's documented rules: what its capacity units are
/// computed from (the heat recorder, `store::heat`).
pub(crate) fn item_size(item: &Item) -> usize {
    size_of(item, Sizing::Documented)
}

fn size_of(item: &Item, sizing: Sizing) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value, sizing))
        .sum()
}

fn value_size(value: &Value, sizing: Sizing) -> usize {
    let (per_element, least_number) = match sizing {
        Sizing::Documented => (1, 2),
        Sizing::LowerBound => (0, 1),
    };
    let number = |decimal: String| number_size(&decimal).max(least_number);
    match value {
        Value::S(s) => s.len(),
        Value::Int(n) => number(n.to_string()),
        Value::Float(f) => number(format!("{f:e}")),
        Value::Bool(_) | Value::Null => 1,
        Value::L(items) => {
            3 + items
                .iter()
                .map(|v| per_element + value_size(v, sizing))
                .sum::<usize>()
        }
        Value::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| per_element + k.len() + value_size(v, sizing))
                .sum::<usize>()
        }
        Value::Ss(set) => set.iter().map(String::len).sum(),
    }
}

/// The size of a number from its decimal form: its significant digits, halved, plus one. Zero
/// has no significant digit here; the documented rules count it as one.
fn number_size(decimal: &str) -> usize {
    let mantissa = decimal.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Items checked as the DynamoDB engine checks them.
    fn check_item(item: &Item) -> StoreResult<Key> {
        super::check_item(item, Sizing::LowerBound)
    }

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
    fn only_the_documented_sizing_counts_list_elements() {
        // 300 K nulls: about 300 KB as a lower bound, 600 KB with a byte per element.
        let many = item(&[("l", Value::L(vec![Value::Null; 300 * 1024]))]);
        assert!(super::check_item(&many, Sizing::LowerBound).is_ok());
        assert!(rejected(super::check_item(&many, Sizing::Documented)));
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
    fn update_actions_name_distinct_attributes_and_add_numbers() {
        let k = Key::new("P", "S");
        assert!(rejected(check_update(
            &k,
            &Update::new().set("a", 1).add("a", 2)
        )));
        assert!(rejected(check_update(&k, &Update::new().add("a", "x"))));
        assert!(rejected(check_update(&k, &Update::new().remove(""))));
    }

    #[test]
    fn transactions_are_bounded_and_name_each_item_once() {
        let put = |sk: &str| TxOp::Put {
            item: Key::new("P", sk).to_item(),
            condition: None,
        };
        let ops: Vec<TxOp> = (0..MAX_TRANSACTION_OPS)
            .map(|n| put(&n.to_string()))
            .collect();
        assert!(check_transaction(&ops, Sizing::Documented).is_ok());
        let too_many = [ops.as_slice(), &[put("last")]].concat();
        assert!(rejected(check_transaction(&too_many, Sizing::Documented)));
        let twice = [put("1"), put("1")];
        assert!(rejected(check_transaction(&twice, Sizing::Documented)));
        let empty_update = [TxOp::Update {
            key: Key::new("P", "1"),
            update: Update::new(),
            condition: None,
        }];
        assert!(rejected(check_transaction(
            &empty_update,
            Sizing::Documented
        )));
    }

    #[test]
    fn number_sizes_follow_significant_digits() {
        assert_eq!(number_size("0"), 1);
        assert_eq!(number_size("-12345"), 4);
        assert_eq!(number_size("1000"), 2);
        assert_eq!(number_size("0.25"), 2);
    }

    #[test]
    fn item_sizes_follow_dynamodb_rules() {
        let size = |attrs: &[(&str, Value)]| {
            let mut item = Item::new();
            for (name, value) in attrs {
                item.insert((*name).to_owned(), value.clone());
            }
            size_of(&item, Sizing::Documented)
        };
        assert_eq!(size(&[("ab", "xyz".into())]), 5);
        assert_eq!(size(&[("é", "é".into())]), 4);
        assert_eq!(size(&[("n", Value::Int(0))]), 1 + 2);
        assert_eq!(size(&[("n", Value::Int(-12345))]), 1 + 4);
        assert_eq!(size(&[("n", Value::Int(1_000_000))]), 1 + 2);
        assert_eq!(size(&[("n", Value::Float(0.125))]), 1 + 3);
        assert_eq!(size(&[("b", true.into()), ("z", Value::Null)]), 4);
        let list = Value::L(vec!["ab".into(), Value::Int(7)]);
        assert_eq!(size(&[("l", list)]), 1 + 3 + (1 + 2) + (1 + 2));
        let map = Value::M(BTreeMap::from([("k".to_owned(), Value::from("v"))]));
        assert_eq!(size(&[("m", map)]), 1 + 3 + 1 + 1 + 1);
        let set = Value::Ss(["a".to_owned(), "bc".to_owned()].into());
        assert_eq!(size(&[("s", set)]), 1 + 3);
    }
}
