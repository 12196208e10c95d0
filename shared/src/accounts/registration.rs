//! Registration, email verification and verification-code resends.
//!
//! A registration is one transaction: the profile, the credentials, the default settings and
//! the two unique items (username, email) that make both unique without regard to case. The
//! account starts unverified; a six-digit code goes out by mail.
//!
//! Resends answer the same for unknown, verified and unverified addresses. Their limits are
//! counted per address for all three, so the 429 after a quick second resend tells nothing
//! about whether the address has an account either.

use serde::Deserialize;
use serde_json::json;

use crate::App;
use crate::accounts::{
    CredentialsRecord, SettingsRecord, UserRecord, get_user_consistent, user_by_email,
};
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::auth::bot_check::refuse_bots;
use crate::auth::client::ClientInfo;
use crate::auth::codes::{self, CodePurpose};
use crate::auth::limits::{self, Limit};
use crate::auth::passwords;
use crate::error::{Error, FieldErrors};
use crate::model::{EmailAddress, Role, UserId, Username, password_problems};
use crate::profiles::professional::{self, ProfessionalRecord};
use crate::store::{Condition, StoreError, Transaction, TxOp, Update, Value, from_item, keys};

/// The longest first or last name, as Django's `User` has it.
pub const NAME_MAX_CHARS: usize = 150;

pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
pub const EMAIL_TAKEN: &str = "A user with that email already exists.";
const REQUIRED: &str = "This field is required.";

/// A registration as the client sent it. Every field is optional here so that all missing
/// and invalid fields are reported together, as DRF does.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterInput {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The hidden form field people never fill (`website`); bots do.
    #[serde(rename = "website")]
    pub honeypot: Option<String>,
}

/// What survives validation.
struct ValidRegistration {
    username: Username,
    email: EmailAddress,
    password: String,
    first_name: String,
    last_name: String,
}

fn validate(input: &RegisterInput) -> Result<ValidRegistration, Error> {
    let mut errors = FieldErrors::new();
    let username = match input.username.as_deref() {
        None => {
            errors.add("username", REQUIRED);
            None
        }
        Some(raw) => Username::parse(raw)
            .map_err(|e| errors.add("username", e))
            .ok(),
    };
    let email = email_field(&mut errors, input.email.as_deref());
    let first_name = input.first_name.as_deref().unwrap_or("").trim().to_owned();
    let last_name = input.last_name.as_deref().unwrap_or("").trim().to_owned();
    for (field, value) in [("first_name", &first_name), ("last_name", &last_name)] {
        if value.chars().count() > NAME_MAX_CHARS {
            errors.add(
                field,
                format!("Ensure this field has no more than {NAME_MAX_CHARS} characters."),
            );
        }
    }
    let password = match input.password.as_deref() {
        None => {
            errors.add("password", REQUIRED);
            None
        }
        Some("") => {
            errors.add("password", "This field may not be blank.");
            None
        }
        Some(password) => {
            // Compared with what the client typed, even where that did not parse.
            let attributes = [
                ("username", input.username.as_deref().unwrap_or("").trim()),
                ("email address", input.email.as_deref().unwrap_or("").trim()),
                ("first name", first_name.as_str()),
                ("last name", last_name.as_str()),
            ];
            let problems = password_problems(password, &attributes);
            for problem in &problems {
                errors.add("password", problem.clone());
            }
            problems.is_empty().then(|| password.to_owned())
        }
    };
    errors.into_result()?;
    match (username, email, password) {
        (Some(username), Some(email), Some(password)) => Ok(ValidRegistration {
            username,
            email,
            password,
            first_name,
            last_name,
        }),
        // Every `None` above added an error, so `into_result` already returned.
        _ => Err(Error::Internal(
            "registration validation lost an error".into(),
        )),
    }
}

/// User ids one process reserves from the counter item at a time: one ADD of the counter per
/// this many registrations, instead of one per registration (`COUNTER#USER_ID` took every
/// registration of the platform, 1,000 WCU/s at the reference load; `docs/scale.md`).
pub const USER_ID_BLOCK: i64 = 100;

/// The rest of this process's block of user ids (`next..=last`), shared by the App's clones.
#[derive(Default)]
pub struct IdBlock {
    rest: std::sync::Mutex<Option<(i64, i64)>>,
}

impl IdBlock {
    fn take(&self) -> Option<i64> {
        let mut rest = self.rest.lock().unwrap_or_else(|e| e.into_inner());
        let (next, last) = (*rest)?;
        *rest = (next < last).then_some((next + 1, last));
        Some(next)
    }

    fn keep(&self, next: i64, last: i64) {
        *self.rest.lock().unwrap_or_else(|e| e.into_inner()) =
            (next <= last).then_some((next, last));
    }
}

/// A new id: the next of this process's block, or the first of a new block reserved from the
/// counter item (one atomic ADD of [`USER_ID_BLOCK`]). Ids stay unique integers; they are in
/// registration order within one process, and a block a process leaves unused (it ended, or a
/// transaction failed afterwards) is a gap, which is fine.
async fn allocate_id(app: &App) -> Result<UserId, Error> {
    if let Some(id) = app.user_ids.take() {
        return Ok(UserId(id));
    }
    let item = app
        .table
        .update(
            &keys::user_id_counter(),
            Update::new().add("value", USER_ID_BLOCK),
            None,
        )
        .await?;
    let last = item
        .get("value")
        .and_then(Value::as_i64)
        .filter(|n| *n >= USER_ID_BLOCK)
        .ok_or_else(|| Error::Internal("the user id counter holds no positive number".into()))?;
    let first = last - USER_ID_BLOCK + 1;
    app.user_ids.keep(first + 1, last);
    Ok(UserId(first))
}

/// A unique item (username or email) owned by `user`.
pub(crate) fn unique_item(key: crate::store::Key, user: UserId, now: &str) -> crate::store::Item {
    let mut item = key.to_item();
    item.insert("user_id".into(), Value::Int(user.0));
    item.insert("created_at".into(), now.into());
    item
}

/// Registers an unverified account and mails its verification code.
pub async fn register(
    app: &App,
    input: RegisterInput,
    client: &ClientInfo,
) -> Result<UserRecord, Error> {
    refuse_bots(app, client, input.honeypot.as_deref(), "register").await?;
    let valid = validate(&input)?;
    let ip = client.ip_string().unwrap_or_else(|| "unknown".into());
    limits::hit(app, Limit::RegisterPerIp, &format!("ip:{ip}")).await?;

    let user = insert_account(app, valid, Role::Normal, false, None).await?;
    let id = user.id;

    log_event_best_effort(
        app,
        NewEvent::new(EventType::Register, Some(id))
            .client(client)
            .description("account registered"),
    )
    .await;
    send_verification(app, &user, client).await;
    Ok(user)
}

/// A professional's sign-up (the seed's `register_professional`): the account with the
/// `professional` role and its professional profile (`professional`, the fields of `POST
/// /api/professional-profiles/`) in ONE transaction, so neither exists without the other. As
/// [`register`] otherwise: bots refused, the per-IP limit, unverified with a mailed code; the
/// professional profile starts unverified, for an administrator to verify as any other.
/// Errors of both parts come together, the profile's as `professional.<field>`.
pub async fn register_professional(
    app: &App,
    input: RegisterInput,
    professional: Option<&serde_json::Value>,
    client: &ClientInfo,
) -> Result<(UserRecord, ProfessionalRecord), Error> {
    refuse_bots(app, client, input.honeypot.as_deref(), "register").await?;
    let mut errors = FieldErrors::new();
    let valid = match validate(&input) {
        Ok(valid) => Some(valid),
        Err(Error::Invalid(found)) => {
            errors = found;
            None
        }
        Err(other) => return Err(other),
    };
    let record = match professional {
        None | Some(serde_json::Value::Null) => {
            errors.add("professional", REQUIRED);
            None
        }
        Some(serde_json::Value::Object(fields)) => {
            match professional::draft(fields, app.clock.now()) {
                Ok(record) => Some(record),
                Err(Error::Invalid(found)) => {
                    for (field, messages) in found.0 {
                        for message in messages {
                            errors.add(&format!("professional.{field}"), message);
                        }
                    }
                    None
                }
                Err(other) => return Err(other),
            }
        }
        Some(_) => {
            errors.add(
                "professional",
                "Expected an object of professional profile fields.",
            );
            None
        }
    };
    errors.into_result()?;
    let (Some(valid), Some(record)) = (valid, record) else {
        return Err(Error::Internal("professional sign-up lost an error".into()));
    };
    let ip = client.ip_string().unwrap_or_else(|| "unknown".into());
    limits::hit(app, Limit::RegisterPerIp, &format!("ip:{ip}")).await?;

    let user = insert_account(app, valid, Role::Professional, false, Some(record.clone())).await?;
    let record = ProfessionalRecord {
        user_id: user.id,
        created_at: user.created_at,
        updated_at: user.created_at,
        ..record
    };
    log_event_best_effort(
        app,
        NewEvent::new(EventType::Register, Some(user.id))
            .client(client)
            .description("professional account registered")
            .metadata(json!({"role": Role::Professional})),
    )
    .await;
    professional::log_created(app, user.id, client).await;
    send_verification(app, &user, client).await;
    Ok((user, record))
}

/// Allocates an id and writes a validated account in one transaction: profile (with `role`
/// and `is_verified` as given), credentials, default settings, the two unique items, and the
/// professional profile when there is one (its owner and times are set here).
async fn insert_account(
    app: &App,
    valid: ValidRegistration,
    role: Role,
    is_verified: bool,
    professional: Option<ProfessionalRecord>,
) -> Result<UserRecord, Error> {
    let id = allocate_id(app).await?;
    let password_hash = passwords::hash_password(&valid.password).await?;
    let now = app.clock.now();
    let mut user = UserRecord::new(
        id,
        valid.username.as_str().to_owned(),
        valid.email.as_str().to_owned(),
        now,
    );
    user.first_name = valid.first_name;
    user.last_name = valid.last_name;
    user.role = role;
    user.is_verified = is_verified;
    let credentials = CredentialsRecord {
        user_id: id,
        password_hash,
        password_changed_at: now,
    };
    let professional = professional.map(|record| ProfessionalRecord {
        user_id: id,
        created_at: now,
        updated_at: now,
        ..record
    });
    let tx = account_transaction(&user, &credentials, &valid.email, professional, now)?;
    commit_account(app, &user, tx).await?;
    crate::metrics::emit(crate::metrics::Metric::Registration);
    Ok(user)
}

/// Every item of a new account, each put if absent.
fn account_transaction(
    user: &UserRecord,
    credentials: &CredentialsRecord,
    email: &EmailAddress,
    professional: Option<ProfessionalRecord>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Transaction<RegistrationOp>, Error> {
    let id = user.id;
    let stamp = now.to_rfc3339();
    let absent = || Some(Condition::item_absent());
    let mut tx = Transaction::new()
        .with(
            RegistrationOp::Profile,
            TxOp::Put {
                item: user.to_item()?,
                condition: absent(),
            },
        )
        .with(
            RegistrationOp::Credentials,
            TxOp::Put {
                item: credentials.to_item()?,
                condition: absent(),
            },
        )
        .with(
            RegistrationOp::Settings,
            TxOp::Put {
                item: SettingsRecord::defaults(id, now).to_item()?,
                condition: absent(),
            },
        )
        .with(
            RegistrationOp::Username,
            TxOp::Put {
                item: user.name_item(&stamp),
                condition: absent(),
            },
        )
        .with(
            RegistrationOp::Email,
            TxOp::Put {
                item: unique_item(keys::unique_email(&email.key()), id, &stamp),
                condition: absent(),
            },
        );
    if let Some(record) = professional {
        tx.push(
            RegistrationOp::Professional,
            TxOp::Put {
                item: record.to_item()?,
                condition: absent(),
            },
        );
    }
    Ok(tx)
}

/// Commits a new account: a taken username or address is a field error; a transaction whose
/// answer was lost counts as applied when the account under this request's id is there.
async fn commit_account(
    app: &App,
    user: &UserRecord,
    tx: Transaction<RegistrationOp>,
) -> Result<(), Error> {
    let id = user.id;
    match tx.commit(app.table.as_ref()).await {
        Ok(()) => Ok(()),
        Err(e) if e.any_condition_failed() => {
            let mut errors = FieldErrors::new();
            if e.condition_failed(RegistrationOp::Username) {
                errors.add("username", USERNAME_TAKEN);
            }
            if e.condition_failed(RegistrationOp::Email) {
                errors.add("email", EMAIL_TAKEN);
            }
            errors.into_result()?;
            // Only the user's own items failed: the id was already in use.
            Err(Error::Internal(format!("user id {id} already has items")))
        }
        // No answer, or a retry after no answer that failed its conditions: the transaction
        // may have applied. The id is this request's alone, so an account under it with this
        // username is this request's own write.
        Err(e) if e.store_error().may_have_applied() => {
            let ours = get_user_consistent(app, id)
                .await?
                .is_some_and(|stored| stored.username == user.username);
            if !ours {
                return Err(e.into());
            }
            tracing::info!(
                user = id.0,
                "registration applied although its answer was lost"
            );
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The operations of a registration: every item of the new account, each put if absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RegistrationOp {
    Profile,
    Credentials,
    Settings,
    /// The username's name item: a taken username fails here.
    Username,
    /// The unique email item: a taken email fails here.
    Email,
    /// The professional profile, when the registration has one.
    Professional,
}

/// How [`create_account`] makes an account: by an administrator (the API) or an operator (the
/// `accounts-admin` command), so without the bot check and the per-IP registration limit.
#[derive(Clone, Copy, Debug)]
pub struct CreateOptions {
    pub role: Role,
    /// A verified account gets no verification code.
    pub is_verified: bool,
    /// Who created it (`None` for the command line).
    pub created_by: Option<UserId>,
}

/// Creates an account with the registration's validation and transaction, the given role and
/// verification state; an unverified one is mailed its code.
pub async fn create_account(
    app: &App,
    input: RegisterInput,
    options: CreateOptions,
    client: &ClientInfo,
) -> Result<UserRecord, Error> {
    let valid = validate(&input)?;
    let user = insert_account(app, valid, options.role, options.is_verified, None).await?;
    log_event_best_effort(
        app,
        NewEvent::new(EventType::Register, Some(user.id))
            .client(client)
            .description("account created by an administrator")
            .metadata(json!({
                "created_by": options.created_by,
                "role": options.role,
                "is_verified": options.is_verified,
            })),
    )
    .await;
    if !options.is_verified {
        send_verification(app, &user, client).await;
    }
    Ok(user)
}

/// Issues and mails a verification code. A mail that cannot go out does not undo the
/// registration: the user asks for another code.
async fn send_verification(app: &App, user: &UserRecord, client: &ClientInfo) {
    match codes::issue_code(app, user, CodePurpose::Verify).await {
        Ok(()) => {
            log_event_best_effort(
                app,
                NewEvent::new(EventType::VerificationSent, Some(user.id))
                    .client(client)
                    .description("verification code sent"),
            )
            .await;
        }
        Err(e) => tracing::warn!(error = %e, user = %user.id, "verification code not sent"),
    }
}

/// A required field: its value, or an error added for it (missing or blank).
pub(crate) fn required<'a>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&'a str>,
) -> Option<&'a str> {
    match value {
        None => {
            errors.add(field, REQUIRED);
            None
        }
        Some("") => {
            errors.add(field, "This field may not be blank.");
            None
        }
        Some(v) => Some(v),
    }
}

/// The `email` field parsed, or an error added for it.
pub(crate) fn email_field(errors: &mut FieldErrors, raw: Option<&str>) -> Option<EmailAddress> {
    let raw = required(errors, "email", raw)?;
    EmailAddress::parse(raw)
        .map_err(|e| errors.add("email", e))
        .ok()
}

/// Verifies the account of `email` with its code. Unknown addresses, verified accounts and
/// wrong, expired, used or exhausted codes all get the same field error on `code`.
pub async fn verify_email(
    app: &App,
    email: Option<&str>,
    code: Option<&str>,
    client: &ClientInfo,
) -> Result<UserRecord, Error> {
    let mut errors = FieldErrors::new();
    let email = email_field(&mut errors, email);
    let code = required(&mut errors, "code", code);
    errors.into_result()?;
    let (Some(email), Some(code)) = (email, code) else {
        return Err(Error::Internal(
            "verification validation lost an error".into(),
        ));
    };

    let Some(user) = user_by_email(app, &email).await? else {
        return Err(Error::field("code", codes::INVALID_CODE));
    };
    if let Err(e) = codes::check_code(app, user.id, CodePurpose::Verify, code).await {
        if matches!(e, Error::Invalid(_)) {
            log_event_best_effort(
                app,
                NewEvent::new(EventType::VerifyFailed, Some(user.id))
                    .client(client)
                    .description("wrong, expired or used verification code")
                    .failed("invalid code"),
            )
            .await;
        }
        return Err(e);
    }

    let now = app.clock.now();
    let update = Update::new()
        .set("is_verified", true)
        .set("updated_at", crate::accounts::Value::from(now));
    let item = app
        .table
        .update(
            &keys::user(user.id),
            update,
            Some(Condition::item_present()),
        )
        .await;
    let user: UserRecord = match item {
        Ok(item) => from_item(&item)?,
        // The account was deleted between the check and the write.
        Err(StoreError::ConditionFailed) => return Err(Error::field("code", codes::INVALID_CODE)),
        Err(e) => return Err(e.into()),
    };
    log_event_best_effort(
        app,
        NewEvent::new(EventType::Verify, Some(user.id))
            .client(client)
            .description("email address verified"),
    )
    .await;
    crate::metrics::emit(crate::metrics::Metric::Verification);
    Ok(user)
}

/// The rate-limit subject for mails to an address: the same for every address, with or
/// without an account, so limits reveal nothing (the limiter stores only its hash).
pub(crate) fn address_subject(email: &EmailAddress) -> String {
    format!("email:{}", email.key())
}

/// Sends a new verification code to an unverified account. The answer is the same for unknown,
/// verified and unverified addresses, and so is its time (the lookup and the mail happen after
/// it, `code_mail.rs`); the limits (one per 60 s, five per hour) are counted per address for
/// all of them.
pub async fn resend_code(app: &App, email: Option<&str>, client: &ClientInfo) -> Result<(), Error> {
    let mut errors = FieldErrors::new();
    let email = email_field(&mut errors, email);
    errors.into_result()?;
    let Some(email) = email else {
        return Err(Error::Internal("resend validation lost an error".into()));
    };
    let subject = address_subject(&email);
    limits::hit(app, Limit::ResendCodeMinute, &subject).await?;
    limits::hit(app, Limit::ResendCodeHour, &subject).await?;
    // The lookup, the code and the mail happen after the answer, for every address alike.
    crate::accounts::code_mail::request(
        app,
        crate::accounts::code_mail::CodeMail::Verification,
        &email,
        client,
    )
    .await
}
