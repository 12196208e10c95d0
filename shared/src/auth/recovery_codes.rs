//! Recovery codes: ten single-use codes handed out with an account's first second factor, each
//! stored as an item named by its hash and spent by a conditional delete; regenerating
//! replaces the set in one transaction.

use super::secrets::sha256_hex;
use super::totp;
use crate::App;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Condition, Key, Query, SortCondition, TxOp, Value, keys};

/// Recovery codes in a set.
pub const RECOVERY_CODES: usize = 10;

/// The keys of the user's unused recovery codes.
pub(super) async fn recovery_code_keys(app: &App, user: UserId) -> Result<Vec<Key>, Error> {
    let query = Query::new(keys::Index::Primary, keys::user_partition(user))
        .sort(SortCondition::BeginsWith(keys::RECOVERY_CODE_PREFIX.into()))
        .consistent()
        .limit(50);
    let page = app.table.query(query).await?;
    Ok(page.items.iter().filter_map(Key::of).collect())
}

/// A code as typed: digits, spaces and dashes forgiven.
pub(super) fn typed_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// A new recovery code: 80 random bits as 16 base32 letters and digits, in groups of four.
pub(super) fn new_recovery_code() -> String {
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    let plain = totp::base32(&bytes).to_ascii_lowercase();
    plain
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored name of a recovery code: the hash of the user and the code as typed without
/// case, spaces or dashes (the code has 80 random bits, so SHA-256 suffices).
pub(super) fn recovery_hash(user: UserId, code: &str) -> String {
    let normalised: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    sha256_hex(&format!("recovery:{user}:{normalised}"))
}

/// A new set of codes, and the writes that replace `old` with it.
pub(super) fn recovery_set(app: &App, user: UserId, old: &[Key]) -> (Vec<String>, Vec<TxOp>) {
    let now = app.clock.now();
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let mut ops: Vec<TxOp> = old
        .iter()
        .map(|key| TxOp::Delete {
            key: key.clone(),
            condition: None,
        })
        .collect();
    for code in &codes {
        let mut item = keys::recovery_code(user, &recovery_hash(user, code)).to_item();
        item.insert("user_id".into(), Value::Int(user.0));
        item.insert("created_at".into(), Value::from(now));
        ops.push(TxOp::Put {
            item,
            condition: Some(Condition::item_absent()),
        });
    }
    (codes, ops)
}

/// The recovery codes that come with an account's first second factor (any left from an
/// earlier factor are replaced): the codes to show once and the writes that store them.
pub(super) async fn first_factor_recovery_set(
    app: &App,
    user: UserId,
) -> Result<(Vec<String>, Vec<TxOp>), Error> {
    let old = recovery_code_keys(app, user).await?;
    Ok(recovery_set(app, user, &old))
}

/// The writes that void an account's recovery codes (its last second factor is going).
pub(super) async fn void_recovery_codes(app: &App, user: UserId) -> Result<Vec<TxOp>, Error> {
    Ok(recovery_code_keys(app, user)
        .await?
        .into_iter()
        .map(|key| TxOp::Delete {
            key,
            condition: None,
        })
        .collect())
}

/// The write that spends a recovery code: it exists, and is deleted by this write only.
pub(super) fn spend_recovery_code(user: UserId, code: &str) -> TxOp {
    TxOp::Delete {
        key: keys::recovery_code(user, &recovery_hash(user, code)),
        condition: Some(Condition::item_present()),
    }
}
