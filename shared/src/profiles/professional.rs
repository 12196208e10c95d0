//! Professional profiles: one per user, for the roles professional and data_provider. The owner
//! creates and edits it; only admins verify it, and a change of the company name after
//! verification clears the verification. Listed through GSI1 (`PROFESSIONALS`), verified and
//! unverified apart, so the `is_verified` filter is a key condition, not a scan.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::validate;
use crate::App;
use crate::accounts::UserRecord;
use crate::activity::events::{self, EventType, NewEvent};
use crate::auth::client::ClientInfo;
use crate::error::{Error, FieldErrors};
use crate::model::{Role, UserId};
use crate::social;
use crate::store::{
    Condition, Cursor, Index, Item, ItemShapeError, Query, SortCondition, Transaction, TxOp, Value,
    from_item, keys, to_item,
};

pub const YEARS_EXPERIENCE_MAX: i64 = 80;
const TEXT_MAX_CHARS: usize = 200;
const DESCRIPTION_MAX_CHARS: usize = 2000;
const LIST_MAX_ITEMS: usize = 50;
const LIST_ITEM_MAX_CHARS: usize = 100;

/// The professional profile item (the seed's `ProfessionalProfile`); its id is the user's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfessionalRecord {
    pub user_id: UserId,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub business_address: String,
    #[serde(default)]
    pub company_name: String,
    #[serde(default)]
    pub job_title: String,
    #[serde(default)]
    pub years_experience: i64,
    #[serde(default)]
    pub certifications: Vec<String>,
    #[serde(default)]
    pub services_offered: Vec<String>,
    #[serde(default)]
    pub is_verified: bool,
    #[serde(default)]
    pub verification_date: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProfessionalRecord {
    pub fn new(user_id: UserId, now: DateTime<Utc>) -> Self {
        ProfessionalRecord {
            user_id,
            description: String::new(),
            phone: None,
            website: None,
            business_address: String::new(),
            company_name: String::new(),
            job_title: String::new(),
            years_experience: 0,
            certifications: Vec::new(),
            services_offered: Vec::new(),
            is_verified: false,
            verification_date: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The item with its key and its `PROFESSIONALS` index entry.
    pub fn to_item(&self) -> Result<Item, ItemShapeError> {
        let mut item = to_item(self)?;
        let key = keys::professional_profile(self.user_id);
        keys::set_key(&mut item, key);
        let (pk, sk) = keys::professional_index(self.is_verified, self.user_id);
        keys::set_index_keys(&mut item, Index::Gsi1, pk, sk);
        Ok(item)
    }

    /// The API view: the record with `id` (= the user's id).
    pub fn view(&self) -> Json {
        let mut view = serde_json::to_value(self).unwrap_or(Json::Null);
        if let Some(fields) = view.as_object_mut() {
            fields.insert("id".into(), Json::from(self.user_id.0));
            fields.insert("user".into(), Json::from(self.user_id.0));
        }
        view
    }
}

/// The roles that have a professional profile.
pub fn has_professional_role(role: Role) -> bool {
    matches!(role, Role::Professional | Role::DataProvider)
}

async fn load(app: &App, id: UserId) -> Result<Option<(ProfessionalRecord, Item)>, Error> {
    match app.table.get(&keys::professional_profile(id), true).await? {
        Some(item) => Ok(Some((from_item(&item)?, item))),
        None => Ok(None),
    }
}

/// `GET /api/professional-profiles/{id}/`: business information, visible to every verified
/// user except across a block (404).
pub async fn get(app: &App, viewer: &UserRecord, id: UserId) -> Result<Json, Error> {
    if viewer.id != id
        && !viewer.role.is_staff()
        && social::blocked_either_way(app, viewer.id, id).await?
    {
        return Err(Error::NotFound);
    }
    let (record, _) = load(app, id).await?.ok_or(Error::NotFound)?;
    Ok(record.view())
}

/// A page of professional profiles.
pub struct ProfessionalPage {
    pub results: Vec<Json>,
    pub next: Option<String>,
}

/// `GET /api/professional-profiles/[?is_verified=]`: by user id, unverified first when not
/// filtered. Blocked users are left out for non-staff viewers.
pub async fn list(
    app: &App,
    viewer: &UserRecord,
    is_verified: Option<bool>,
    page_size: u32,
    cursor: Option<&str>,
) -> Result<ProfessionalPage, Error> {
    let (pk, _) = keys::professional_index(false, viewer.id);
    let mut query = Query::new(Index::Gsi1, pk)
        .limit(page_size)
        .after(cursor.map(Cursor::from_client));
    if let Some(verified) = is_verified {
        query = query.sort(SortCondition::BeginsWith(
            keys::professional_index_prefix(verified).into(),
        ));
    }
    let page = app.table.query(query).await?;
    let records: Vec<ProfessionalRecord> =
        page.items.iter().map(from_item).collect::<Result<_, _>>()?;
    let others: Vec<UserId> = records
        .iter()
        .map(|r| r.user_id)
        .filter(|id| *id != viewer.id)
        .collect();
    let blocked = if viewer.role.is_staff() || others.is_empty() {
        Vec::new()
    } else {
        let edge_keys: Vec<_> = others
            .iter()
            .flat_map(|id| {
                [
                    keys::block_edge(viewer.id, *id),
                    keys::block_edge(*id, viewer.id),
                ]
            })
            .collect();
        let found = app.table.batch_get(&edge_keys).await?;
        others
            .iter()
            .enumerate()
            .filter(|(i, _)| found[2 * i].is_some() || found[2 * i + 1].is_some())
            .map(|(_, id)| *id)
            .collect()
    };
    Ok(ProfessionalPage {
        results: records
            .iter()
            .filter(|r| !blocked.contains(&r.user_id))
            .map(ProfessionalRecord::view)
            .collect(),
        next: page.next.map(|c| c.as_str().to_owned()),
    })
}

/// `POST /api/professional-profiles/`: the caller's own, once, if their role has one.
pub async fn create(
    app: &App,
    caller: &UserRecord,
    body: &Map<String, Json>,
    client: &ClientInfo,
) -> Result<Json, Error> {
    if !has_professional_role(caller.role) {
        return Err(Error::Forbidden(
            "Only professionals and data providers have a professional profile.".into(),
        ));
    }
    let now = app.clock.now();
    let mut record = ProfessionalRecord::new(caller.id, now);
    apply_changes(&mut record, body, None)?;
    match put_checked(app, record.to_item()?, Condition::item_absent()).await? {
        Written::Yes => {}
        Written::ConditionFailed => {
            return Err(Error::field(
                "user",
                "This user already has a professional profile.",
            ));
        }
    }
    log(app, caller.id, caller.id, client).await;
    Ok(record.view())
}

/// `PUT`/`PATCH /api/professional-profiles/{id}/`: owner or admin. A changed company name
/// clears a verification. The write is conditional on the version read.
pub async fn update(
    app: &App,
    caller: &UserRecord,
    id: UserId,
    changes: &Map<String, Json>,
    client: &ClientInfo,
) -> Result<Json, Error> {
    super::profile::check_write(app, caller, id).await?;
    let (current, _) = load(app, id).await?.ok_or(Error::NotFound)?;
    let mut next = current.clone();
    apply_changes(&mut next, changes, Some(&current))?;
    if next.company_name != current.company_name && current.is_verified {
        next.is_verified = false;
        next.verification_date = None;
    }
    next.updated_at = app.clock.now();
    write_over(app, &current, &next).await?;
    log(app, caller.id, id, client).await;
    Ok(next.view())
}

/// Replaces `current` by `next` if nobody wrote in between (409 otherwise; 404 if deleted).
async fn write_over(
    app: &App,
    current: &ProfessionalRecord,
    next: &ProfessionalRecord,
) -> Result<(), Error> {
    let condition = Condition::eq("updated_at", Value::from(current.updated_at));
    match put_checked(app, next.to_item()?, condition).await? {
        Written::Yes => Ok(()),
        Written::ConditionFailed => Err(Error::Conflict(
            "The professional profile changed meanwhile; try again.".into(),
        )),
    }
}

enum Written {
    Yes,
    ConditionFailed,
}

/// Puts the professional profile item on `condition`, in one transaction with a check that the
/// owner's profile exists and is not being erased: a write racing the account's erasure must
/// not leave an orphaned item (404 then).
async fn put_checked(app: &App, item: Item, condition: Condition) -> Result<Written, Error> {
    let owner = item
        .get("user_id")
        .and_then(Value::as_i64)
        .map(UserId)
        .ok_or_else(|| Error::Internal("professional profile without user_id".into()))?;
    let tx = Transaction::new()
        .with(
            PutOp::Professional,
            TxOp::Put {
                item,
                condition: Some(condition),
            },
        )
        .with(
            PutOp::Owner,
            TxOp::Check {
                key: keys::user(owner),
                condition: super::profile::writable_profile(),
            },
        );
    match tx.commit(app.table.as_ref()).await {
        Ok(()) => Ok(Written::Yes),
        Err(e) => match e.first_failed_condition() {
            Some(PutOp::Professional) => Ok(Written::ConditionFailed),
            Some(PutOp::Owner) => Err(Error::NotFound),
            None => Err(e.into()),
        },
    }
}

/// The operations of [`put_checked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PutOp {
    /// The professional profile, on the caller's condition.
    Professional,
    /// The owner's profile exists and is not being erased.
    Owner,
}

/// `DELETE /api/professional-profiles/{id}/`: owner or admin.
pub async fn delete(
    app: &App,
    caller: &UserRecord,
    id: UserId,
    client: &ClientInfo,
) -> Result<(), Error> {
    super::profile::check_write(app, caller, id).await?;
    let removed = app
        .table
        .delete(&keys::professional_profile(id), None)
        .await?;
    if removed.is_none() {
        return Err(Error::NotFound);
    }
    log(app, caller.id, id, client).await;
    Ok(())
}

/// `POST /api/professional-profiles/{id}/verify/`: admins only.
pub async fn verify(
    app: &App,
    caller: &UserRecord,
    id: UserId,
    client: &ClientInfo,
) -> Result<Json, Error> {
    if !caller.role.is_admin() {
        return Err(Error::Forbidden(
            "Only admins verify professional profiles.".into(),
        ));
    }
    let (current, _) = load(app, id).await?.ok_or(Error::NotFound)?;
    let mut next = current.clone();
    let now = app.clock.now();
    next.is_verified = true;
    next.verification_date = Some(now);
    next.updated_at = now;
    write_over(app, &current, &next).await?;
    log(app, caller.id, id, client).await;
    Ok(next.view())
}

/// A new professional profile from a sign-up's `professional` object (the fields of `POST
/// /api/professional-profiles/`), validated; its owner and times are set when the account is
/// written (`accounts::registration::register_professional`). `company_name` is required.
pub fn draft(body: &Map<String, Json>, now: DateTime<Utc>) -> Result<ProfessionalRecord, Error> {
    let mut record = ProfessionalRecord::new(UserId(0), now);
    let applied = apply_changes(&mut record, body, None);
    let mut errors = match applied {
        Ok(()) => FieldErrors::new(),
        Err(Error::Invalid(errors)) => errors,
        Err(other) => return Err(other),
    };
    if !errors.0.contains_key("company_name") && record.company_name.trim().is_empty() {
        errors.add("company_name", "This field is required.");
    }
    errors.into_result()?;
    Ok(record)
}

/// The event of a professional profile written by its owner.
pub(crate) async fn log_created(app: &App, owner: UserId, client: &ClientInfo) {
    log(app, owner, owner, client).await;
}

async fn log(app: &App, actor: UserId, owner: UserId, client: &ClientInfo) {
    let mut event = NewEvent::new(EventType::ProfessionalProfileUpdate, Some(actor)).client(client);
    if actor != owner {
        event = event.target(owner);
    }
    events::log_event_best_effort(app, event).await;
}

/// Applies and validates every field. `is_verified` and `verification_date` are read-only:
/// sending the stored value is accepted (a round trip), another value is a 400, since a client
/// would believe it verified itself.
fn apply_changes(
    record: &mut ProfessionalRecord,
    changes: &Map<String, Json>,
    current: Option<&ProfessionalRecord>,
) -> Result<(), Error> {
    let mut errors = FieldErrors::new();
    let stored = current.map(ProfessionalRecord::view);
    for (field, value) in changes {
        let result = match field.as_str() {
            "description" => {
                validate::text(value, DESCRIPTION_MAX_CHARS).map(|v| record.description = v)
            }
            "phone" => validate::phone(value).map(|v| record.phone = v),
            "website" => validate::https_url(value).map(|v| record.website = v),
            "business_address" => {
                validate::text(value, TEXT_MAX_CHARS).map(|v| record.business_address = v)
            }
            "company_name" => {
                validate::text(value, TEXT_MAX_CHARS).map(|v| record.company_name = v)
            }
            "job_title" => validate::text(value, TEXT_MAX_CHARS).map(|v| record.job_title = v),
            "years_experience" => validate::integer(value, 0, YEARS_EXPERIENCE_MAX)
                .map(|v| record.years_experience = v),
            "certifications" => validate::string_list(value, LIST_MAX_ITEMS, LIST_ITEM_MAX_CHARS)
                .map(|v| record.certifications = v),
            "services_offered" => validate::string_list(value, LIST_MAX_ITEMS, LIST_ITEM_MAX_CHARS)
                .map(|v| record.services_offered = v),
            "is_verified" | "verification_date" => {
                let same = match &stored {
                    Some(view) => view.get(field.as_str()) == Some(value),
                    None => matches!(value, Json::Null | Json::Bool(false)),
                };
                if same {
                    Ok(())
                } else {
                    Err(
                        "Only admins verify, through /api/professional-profiles/{id}/verify/."
                            .to_owned(),
                    )
                }
            }
            "id" | "user" | "user_id" | "created_at" | "updated_at" => Ok(()),
            _ => Err("Unknown field.".to_owned()),
        };
        if let Err(message) = result {
            errors.add(field, message);
        }
    }
    errors.into_result()
}
