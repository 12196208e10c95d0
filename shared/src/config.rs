//! Configuration from environment variables, read once at cold start. A missing or invalid
//! setting is one [`ConfigError`] naming the variable, and the binary stops on it.

use std::path::PathBuf;

/// Where a process runs decides the defaults: Lambda wants DynamoDB, SES and EventBridge and
/// must be told the table; accounts-local wants everything embedded under its data dir.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deployment {
    Lambda,
    Local,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreConfig {
    /// SQLite in `<data_dir>/accounts.sqlite3`.
    Embedded { data_dir: PathBuf },
    /// The DynamoDB table; the endpoint comes from `AWS_ENDPOINT_URL` when set (moto).
    DynamoDb {
        table_name: String,
        create_if_missing: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailConfig {
    /// One JSON file per message in this directory.
    Outbox { dir: PathBuf },
    Ses {
        from: String,
        /// The SES configuration set every message is sent with (`SES_CONFIGURATION_SET`):
        /// its bounces and complaints come back as events (`accounts/mail_feedback.rs`).
        configuration_set: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusConfig {
    InProcess,
    EventBridge { bus_name: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub deployment: Deployment,
    pub store: StoreConfig,
    pub mail: MailConfig,
    pub bus: BusConfig,
    /// The sender of every message (`MAIL_FROM`); the outbox records it too.
    pub mail_from: String,
    /// Largest accepted request body in bytes (`MAX_BODY_BYTES`, default 64 KiB).
    pub max_body_bytes: usize,
    pub auth: AuthConfig,
    pub social: SocialConfig,
    pub events: EventsConfig,
    /// `ACCOUNTS_INJECT_FAULTS` (a rate: `0.2` or `20%`) and `ACCOUNTS_INJECT_FAULTS_SEED`:
    /// store calls fail on purpose at that rate (`docs/faults.md`); unset by default.
    pub store_faults: Option<crate::store::faults::FaultConfig>,
    /// `ACCOUNTS_STORE_LATENCY` (`5ms`): every store call waits this long first, as a round trip
    /// to DynamoDB does (`store/latency.rs`); unset by default.
    pub store_latency: Option<std::time::Duration>,
    pub badges: BadgesConfig,
    /// `AWS_TRUST_STORE`: the root certificates the AWS SDK's HTTPS client trusts.
    pub aws_trust_store: AwsTrustStore,
}

/// Which root certificates the AWS SDK's HTTPS client trusts (`shared/src/aws.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsTrustStore {
    /// `aws` (the default in Lambda): only the roots AWS endpoints chain to, compiled in.
    /// Loading the platform's store instead is more than half of a function's init time.
    AwsRoots,
    /// `system` (the default locally): the platform's roots, for an endpoint behind another CA
    /// (a TLS-inspecting proxy, an emulator with its own certificate).
    System,
}

/// Automatic badge awards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadgesConfig {
    /// `BADGES_EVALUATE_ON_BUS`: the badge evaluator subscribes to the in-process bus, so
    /// follows, logins and counted events award badges in the same process (accounts-local
    /// turns it on; in Lambda the `badge-events` function gets the events from EventBridge).
    /// Default false, so that a bare App does no evaluation work behind other requests.
    pub evaluate_on_bus: bool,
}

/// The event log's retention by severity (the TTL of each event), in days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsConfig {
    /// `EVENT_RETENTION_LOW_DAYS`, `_MEDIUM_`, `_HIGH_`, `_CRITICAL_`: defaults 90, 365, 730,
    /// 730. Indexed by severity, low first.
    pub retention_days: [i64; 4],
}

/// Limits of the social graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocialConfig {
    /// `FOLLOWING_LIMIT`: most accounts one user may actively follow, default 7500.
    pub following_limit: i64,
    /// `LARGE_ACCOUNT_FOLLOWERS`: the follower count at which an account's follows start
    /// counting in shards (`social::large`), default 10000.
    pub large_account_followers: i64,
}

/// Lifetimes and limits of authentication. Durations are whole seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// `JWT_ISSUER`, default `accounts`.
    pub jwt_issuer: String,
    /// `JWT_AUDIENCE`, default `accounts-api`.
    pub jwt_audience: String,
    /// Where the Ed25519 signing keys come from.
    pub signing_keys: SigningKeysSource,
    /// Where the keys that seal second-factor secrets come from (`auth/sealed.rs`).
    pub mfa_secret_keys: SecretKeysSource,
    /// `MFA_ISSUER`: the issuer authenticator apps show beside a factor, default `Accounts`.
    pub mfa_issuer: String,
    /// `WEBAUTHN_RP_ID`: the relying party id passkeys are bound to (a registrable domain of
    /// the console's origin), default `localhost`.
    pub webauthn_rp_id: String,
    /// `WEBAUTHN_ORIGINS`: comma-separated origins a passkey ceremony may come from, default
    /// `http://localhost:3000,http://127.0.0.1:3000` (the console of `scripts/dev`).
    pub webauthn_origins: Vec<String>,
    /// `MFA_REQUIRED_FOR_STAFF`: staff (moderators and up) must enrol a second factor; until
    /// they do, a sign-in answers that one is required. Default false.
    pub mfa_required_for_staff: bool,
    /// `ACCESS_TOKEN_TTL`, default 3600 (1 h).
    pub access_ttl_secs: i64,
    /// `REFRESH_TOKEN_TTL`, default 604800 (7 days).
    pub refresh_ttl_secs: i64,
    /// `RENEW_ACCESS_BEFORE`: renew an access token with less than this left, default 300.
    pub renew_before_secs: i64,
    /// `REFRESH_REUSE_GRACE`: a rotated refresh token reused within this is answered, default 10.
    pub refresh_reuse_grace_secs: i64,
    /// `SESSION_IDLE_TIMEOUT`, default 1800 (30 min, sliding).
    pub session_idle_secs: i64,
    /// `SESSION_MAX_AGE`, default 1209600 (14 days, absolute).
    pub session_absolute_secs: i64,
    /// `CODE_TTL`: emailed codes expire after this, default 900 (15 min).
    pub code_ttl_secs: i64,
    /// `SECURE_COOKIES`: `Secure` on cookies; default true in Lambda, false locally (plain HTTP).
    pub secure_cookies: bool,
    /// `RATE_LIMIT_SCALE`: multiplies the allowance of every fixed-window rate limit (per-IP
    /// registrations and failed logins, code resends, reset requests), default 1. For load
    /// tests and API fuzzing of a local server, where every request comes from one address.
    pub rate_limit_scale: i64,
    /// `WRITE_BUDGET`: writes a signed-in user may send per 5 minutes (per instance), default
    /// 300 (Mastodon's figure).
    pub write_budget: u32,
    /// `EVENT_BUDGET`: events a signed-in user may log per minute (`POST /api/events/`, a
    /// bucket of its own), default 60.
    pub event_budget: u32,
    /// `SERVICE_WRITE_BUDGET`: writes per 5 minutes with one API token (services), default 6000.
    pub service_write_budget: u32,
    /// `PUBLIC_URL`: where people reach the console (`https://accounts.example.com`), for links
    /// in mail; unset, mail carries the token and the API path instead of a link.
    pub public_url: Option<String>,
}

/// The JWT signing keys: a JSON key set in `JWT_SIGNING_KEYS` (Lambda; the first key signs,
/// all verify), or a file in the data dir generated on first start (accounts-local).
#[derive(Clone, PartialEq, Eq)]
pub enum SigningKeysSource {
    Inline(String),
    File(PathBuf),
}

impl std::fmt::Debug for SigningKeysSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKeysSource::Inline(_) => f.write_str("Inline(<secret>)"),
            SigningKeysSource::File(path) => write!(f, "File({})", path.display()),
        }
    }
}

/// The keys that seal second-factor secrets: `MFA_SECRET_KEYS` (`<kid>:<base64url key>`,
/// comma-separated; in Lambda from a NoEcho parameter), a file (`MFA_SECRET_KEYS_FILE`;
/// accounts-local's default, generated on first start), or none (second factors unavailable).
#[derive(Clone, PartialEq, Eq)]
pub enum SecretKeysSource {
    Unset,
    Inline(String),
    File(PathBuf),
}

impl std::fmt::Debug for SecretKeysSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretKeysSource::Unset => f.write_str("Unset"),
            SecretKeysSource::Inline(_) => f.write_str("Inline(<secret>)"),
            SecretKeysSource::File(path) => write!(f, "File({})", path.display()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(var: &'static str, reason: impl Into<String>) -> Self {
        ConfigError {
            var,
            reason: reason.into(),
        }
    }
}

/// A source of settings: the process environment in production, a map in tests.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env(deployment: Deployment) -> Result<Config, ConfigError> {
        Self::from(&ProcessEnv, deployment)
    }

    /// Reads the configuration from any [`Env`]. Variables:
    ///
    /// | variable | meaning | default (Lambda / local) |
    /// |---|---|---|
    /// | `STORE` | `embedded` or `dynamodb` | `dynamodb` / `embedded` |
    /// | `DATA_DIR` | embedded database and outbox | — / `.local` |
    /// | `TABLE_NAME` | the DynamoDB table | required with `dynamodb` |
    /// | `CREATE_TABLE` | create the table when missing (`true`/`false`) | `false` / `true` |
    /// | `MAIL` | `ses` or `outbox` | `ses` / `outbox` |
    /// | `MAIL_FROM` | sender address | required with `ses` / `no-reply@localhost` |
    /// | `SES_CONFIGURATION_SET` | SES configuration set of every message (bounce and complaint events) | none |
    /// | `BUS` | `eventbridge` or `in-process` | `eventbridge` / `in-process` |
    /// | `EVENT_BUS_NAME` | the EventBridge bus | required with `eventbridge` |
    /// | `MAX_BODY_BYTES` | largest request body | `65536` |
    /// | `FOLLOWING_LIMIT` | most accounts one user may follow | `7500` |
    /// | `RATE_LIMIT_SCALE` | multiplies every fixed-window rate limit's allowance | `1` |
    /// | `EVENT_RETENTION_{LOW,MEDIUM,HIGH,CRITICAL}_DAYS` | event retention by severity | `90`, `365`, `730`, `730` |
    /// | `ACCOUNTS_INJECT_FAULTS` | store calls failing on purpose (`0.2`, `20%`) | unset |
    /// | `ACCOUNTS_INJECT_FAULTS_SEED` | seed of the injected faults | random |
    pub fn from(env: &dyn Env, deployment: Deployment) -> Result<Config, ConfigError> {
        let local = deployment == Deployment::Local;
        let data_dir = || -> Result<PathBuf, ConfigError> {
            match env.var("DATA_DIR") {
                Some(dir) => Ok(PathBuf::from(dir)),
                None if local => Ok(PathBuf::from(".local")),
                None => Err(ConfigError::new(
                    "DATA_DIR",
                    "must be set for the embedded store or the outbox",
                )),
            }
        };

        let store =
            match env
                .var("STORE")
                .as_deref()
                .unwrap_or(if local { "embedded" } else { "dynamodb" })
            {
                "embedded" => StoreConfig::Embedded {
                    data_dir: data_dir()?,
                },
                "dynamodb" => StoreConfig::DynamoDb {
                    table_name: env.var("TABLE_NAME").ok_or_else(|| {
                        ConfigError::new("TABLE_NAME", "must be set for the dynamodb store")
                    })?,
                    create_if_missing: parse_bool(env, "CREATE_TABLE", local)?,
                },
                other => {
                    return Err(ConfigError::new(
                        "STORE",
                        format!("`{other}` is not one of embedded, dynamodb"),
                    ));
                }
            };

        let mail_from = match env.var("MAIL_FROM") {
            Some(from) if from.contains('@') => from,
            Some(from) => {
                return Err(ConfigError::new(
                    "MAIL_FROM",
                    format!("`{from}` is not an email address"),
                ));
            }
            None if local => "no-reply@localhost".to_owned(),
            None => String::new(),
        };
        let mail = match env
            .var("MAIL")
            .as_deref()
            .unwrap_or(if local { "outbox" } else { "ses" })
        {
            "outbox" => MailConfig::Outbox {
                dir: data_dir()?.join("outbox"),
            },
            "ses" if mail_from.is_empty() => {
                return Err(ConfigError::new("MAIL_FROM", "must be set for ses mail"));
            }
            "ses" => MailConfig::Ses {
                from: mail_from.clone(),
                configuration_set: env.var("SES_CONFIGURATION_SET").filter(|s| !s.is_empty()),
            },
            other => {
                return Err(ConfigError::new(
                    "MAIL",
                    format!("`{other}` is not one of ses, outbox"),
                ));
            }
        };

        let bus = match env.var("BUS").as_deref().unwrap_or(if local {
            "in-process"
        } else {
            "eventbridge"
        }) {
            "in-process" => BusConfig::InProcess,
            "eventbridge" => BusConfig::EventBridge {
                bus_name: env.var("EVENT_BUS_NAME").ok_or_else(|| {
                    ConfigError::new("EVENT_BUS_NAME", "must be set for the eventbridge bus")
                })?,
            },
            other => {
                return Err(ConfigError::new(
                    "BUS",
                    format!("`{other}` is not one of eventbridge, in-process"),
                ));
            }
        };

        let max_body_bytes = match env.var("MAX_BODY_BYTES") {
            None => 64 * 1024,
            Some(v) => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError::new("MAX_BODY_BYTES", format!("`{v}` is not a positive integer"))
            })?,
        };

        // An inline key set wins; a file (generated when missing) is the explicit choice for a
        // function run outside AWS (`cargo lambda watch`) and accounts-local's default.
        let signing_keys = match (
            env.var("JWT_SIGNING_KEYS"),
            env.var("JWT_SIGNING_KEYS_FILE"),
        ) {
            (Some(json), _) => SigningKeysSource::Inline(json),
            (None, Some(path)) => SigningKeysSource::File(PathBuf::from(path)),
            (None, None) if local => {
                SigningKeysSource::File(data_dir()?.join("jwt-signing-keys.json"))
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "JWT_SIGNING_KEYS",
                    "must be set (a JSON key set; see README)",
                ));
            }
        };
        let mfa_secret_keys = match (env.var("MFA_SECRET_KEYS"), env.var("MFA_SECRET_KEYS_FILE")) {
            (Some(text), _) => SecretKeysSource::Inline(text),
            (None, Some(path)) => SecretKeysSource::File(PathBuf::from(path)),
            (None, None) if local => SecretKeysSource::File(data_dir()?.join("mfa-secret-keys")),
            (None, None) => SecretKeysSource::Unset,
        };
        let auth = AuthConfig {
            jwt_issuer: env.var("JWT_ISSUER").unwrap_or_else(|| "accounts".into()),
            jwt_audience: env
                .var("JWT_AUDIENCE")
                .unwrap_or_else(|| "accounts-api".into()),
            signing_keys,
            mfa_secret_keys,
            mfa_issuer: env.var("MFA_ISSUER").unwrap_or_else(|| "Accounts".into()),
            webauthn_rp_id: env
                .var("WEBAUTHN_RP_ID")
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "localhost".into()),
            webauthn_origins: env
                .var("WEBAUTHN_ORIGINS")
                .map(|s| {
                    s.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect::<Vec<_>>()
                })
                .filter(|o| !o.is_empty())
                .unwrap_or_else(|| {
                    vec![
                        "http://localhost:3000".into(),
                        "http://127.0.0.1:3000".into(),
                    ]
                }),
            mfa_required_for_staff: parse_bool(env, "MFA_REQUIRED_FOR_STAFF", false)?,
            access_ttl_secs: parse_secs(env, "ACCESS_TOKEN_TTL", 3600)?,
            refresh_ttl_secs: parse_secs(env, "REFRESH_TOKEN_TTL", 7 * 24 * 3600)?,
            renew_before_secs: parse_secs(env, "RENEW_ACCESS_BEFORE", 300)?,
            refresh_reuse_grace_secs: parse_secs(env, "REFRESH_REUSE_GRACE", 10)?,
            session_idle_secs: parse_secs(env, "SESSION_IDLE_TIMEOUT", 30 * 60)?,
            session_absolute_secs: parse_secs(env, "SESSION_MAX_AGE", 14 * 24 * 3600)?,
            code_ttl_secs: parse_secs(env, "CODE_TTL", 15 * 60)?,
            secure_cookies: parse_bool(env, "SECURE_COOKIES", !local)?,
            rate_limit_scale: match env.var("RATE_LIMIT_SCALE") {
                None => 1,
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or_else(|| {
                        ConfigError::new(
                            "RATE_LIMIT_SCALE",
                            format!("`{v}` is not a whole number from 1 to 1000000"),
                        )
                    })?,
            },
            write_budget: parse_budget(env, "WRITE_BUDGET", 300)?,
            event_budget: parse_budget(env, "EVENT_BUDGET", 60)?,
            service_write_budget: parse_budget(env, "SERVICE_WRITE_BUDGET", 6000)?,
            public_url: match env.var("PUBLIC_URL").filter(|v| !v.is_empty()) {
                None => None,
                Some(v) if v.starts_with("https://") || v.starts_with("http://") => Some(v),
                Some(v) => {
                    return Err(ConfigError::new(
                        "PUBLIC_URL",
                        format!("`{v}` is not an http(s) URL"),
                    ));
                }
            },
        };

        let following_limit = match env.var("FOLLOWING_LIMIT") {
            None => 7500,
            Some(v) => v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError::new(
                    "FOLLOWING_LIMIT",
                    format!("`{v}` is not a positive integer"),
                )
            })?,
        };

        let large_account_followers = match env.var("LARGE_ACCOUNT_FOLLOWERS") {
            None => 10_000,
            Some(v) => v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError::new(
                    "LARGE_ACCOUNT_FOLLOWERS",
                    format!("`{v}` is not a positive integer"),
                )
            })?,
        };

        let mut retention_days = [90, 365, 730, 730];
        for (days, var) in retention_days.iter_mut().zip([
            "EVENT_RETENTION_LOW_DAYS",
            "EVENT_RETENTION_MEDIUM_DAYS",
            "EVENT_RETENTION_HIGH_DAYS",
            "EVENT_RETENTION_CRITICAL_DAYS",
        ]) {
            if let Some(v) = env.var(var) {
                *days = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=3650).contains(n))
                    .ok_or_else(|| {
                        ConfigError::new(
                            var,
                            format!("`{v}` is not a number of days from 1 to 3650"),
                        )
                    })?;
            }
        }

        Ok(Config {
            deployment,
            store,
            mail,
            bus,
            mail_from,
            max_body_bytes,
            auth,
            social: SocialConfig {
                following_limit,
                large_account_followers,
            },
            events: EventsConfig { retention_days },
            store_faults: parse_faults(env)?,
            store_latency: match env.var("ACCOUNTS_STORE_LATENCY") {
                None => None,
                Some(v) => Some(parse_latency(&v).ok_or_else(|| {
                    ConfigError::new(
                        "ACCOUNTS_STORE_LATENCY",
                        format!("`{v}` is not a latency such as 5ms (0 to 1000 ms)"),
                    )
                })?),
            },
            badges: BadgesConfig {
                evaluate_on_bus: parse_bool(env, "BADGES_EVALUATE_ON_BUS", false)?,
            },
            aws_trust_store: match env.var("AWS_TRUST_STORE").as_deref() {
                None if local => AwsTrustStore::System,
                None | Some("aws") => AwsTrustStore::AwsRoots,
                Some("system") => AwsTrustStore::System,
                Some(other) => {
                    return Err(ConfigError::new(
                        "AWS_TRUST_STORE",
                        format!("`{other}` is not one of aws, system"),
                    ));
                }
            },
        })
    }
}

/// `5ms`, `5` (milliseconds) or `0.5ms`, up to a second.
fn parse_latency(raw: &str) -> Option<std::time::Duration> {
    let ms: f64 = raw.trim().trim_end_matches("ms").trim().parse().ok()?;
    (0.0..=1000.0)
        .contains(&ms)
        .then(|| std::time::Duration::from_secs_f64(ms / 1000.0))
}

fn parse_faults(env: &dyn Env) -> Result<Option<crate::store::faults::FaultConfig>, ConfigError> {
    use crate::store::faults::{FaultConfig, FaultRate};
    let Some(rate) = env.var("ACCOUNTS_INJECT_FAULTS") else {
        return Ok(None);
    };
    let rate = FaultRate::parse(&rate)
        .map_err(|reason| ConfigError::new("ACCOUNTS_INJECT_FAULTS", reason))?;
    match env.var("ACCOUNTS_INJECT_FAULTS_SEED") {
        None => Ok(Some(FaultConfig::new(rate))),
        Some(v) => {
            let seed = v.trim().parse::<u64>().map_err(|_| {
                ConfigError::new(
                    "ACCOUNTS_INJECT_FAULTS_SEED",
                    format!("`{v}` is not a whole number"),
                )
            })?;
            Ok(Some(FaultConfig::seeded(rate, seed)))
        }
    }
}

fn parse_budget(env: &dyn Env, name: &'static str, default: u32) -> Result<u32, ConfigError> {
    match env.var(name) {
        None => Ok(default),
        Some(v) => {
            v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ConfigError::new(name, format!("`{v}` is not a positive whole number"))
            })
        }
    }
}

fn parse_secs(env: &dyn Env, var: &'static str, default: i64) -> Result<i64, ConfigError> {
    match env.var(var) {
        None => Ok(default),
        Some(v) => v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ConfigError::new(var, format!("`{v}` is not a positive number of seconds"))
        }),
    }
}

fn parse_bool(env: &dyn Env, var: &'static str, default: bool) -> Result<bool, ConfigError> {
    match env.var(var).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ConfigError::new(
            var,
            format!("`{other}` is not true or false"),
        )),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn store_latency_reads_milliseconds() {
        assert_eq!(
            parse_latency("5ms"),
            Some(std::time::Duration::from_millis(5))
        );
        assert_eq!(
            parse_latency("2"),
            Some(std::time::Duration::from_millis(2))
        );
        assert_eq!(
            parse_latency("0.5ms"),
            Some(std::time::Duration::from_micros(500))
        );
        assert_eq!(parse_latency("5s"), None);
        assert_eq!(parse_latency("2000ms"), None);
    }
    use super::*;

    #[test]
    fn local_defaults_need_no_variables() {
        let config = Config::from(&[("X", "y")], Deployment::Local).unwrap();
        assert_eq!(
            config.store,
            StoreConfig::Embedded {
                data_dir: ".local".into()
            }
        );
        assert_eq!(
            config.mail,
            MailConfig::Outbox {
                dir: ".local/outbox".into()
            }
        );
        assert_eq!(config.bus, BusConfig::InProcess);
    }

    #[test]
    fn the_aws_trust_store_is_amazons_roots_in_lambda_and_the_system_store_locally() {
        let lambda = [
            ("TABLE_NAME", "t"),
            ("MAIL_FROM", "a@b.c"),
            ("EVENT_BUS_NAME", "b"),
            ("JWT_SIGNING_KEYS", "{}"),
        ];
        let config = Config::from(&lambda, Deployment::Lambda).unwrap();
        assert_eq!(config.aws_trust_store, AwsTrustStore::AwsRoots);
        let config = Config::from(&[("X", "y")], Deployment::Local).unwrap();
        assert_eq!(config.aws_trust_store, AwsTrustStore::System);
        for (value, expected) in [
            ("aws", AwsTrustStore::AwsRoots),
            ("system", AwsTrustStore::System),
        ] {
            for deployment in [Deployment::Lambda, Deployment::Local] {
                let [a, b, c, d] = lambda;
                let env = [a, b, c, d, ("AWS_TRUST_STORE", value)];
                let config = Config::from(&env, deployment).unwrap();
                assert_eq!(config.aws_trust_store, expected, "{value} {deployment:?}");
            }
        }
        let err = Config::from(&[("AWS_TRUST_STORE", "native")], Deployment::Local).unwrap_err();
        assert_eq!(err.var, "AWS_TRUST_STORE");
    }

    #[test]
    fn lambda_names_the_missing_variable() {
        let err = Config::from(&[("X", "y")], Deployment::Lambda).unwrap_err();
        assert_eq!(err.var, "TABLE_NAME");
        let err = Config::from(&[("TABLE_NAME", "t")], Deployment::Lambda).unwrap_err();
        assert_eq!(err.var, "MAIL_FROM");
        let err = Config::from(
            &[("TABLE_NAME", "t"), ("MAIL_FROM", "a@b.c")],
            Deployment::Lambda,
        )
        .unwrap_err();
        assert_eq!(err.var, "EVENT_BUS_NAME");
        assert_eq!(
            err.to_string(),
            "invalid configuration: EVENT_BUS_NAME: must be set for the eventbridge bus"
        );
        let err = Config::from(
            &[
                ("TABLE_NAME", "t"),
                ("MAIL_FROM", "a@b.c"),
                ("EVENT_BUS_NAME", "b"),
            ],
            Deployment::Lambda,
        )
        .unwrap_err();
        assert_eq!(err.var, "JWT_SIGNING_KEYS");
        let config = Config::from(
            &[
                ("TABLE_NAME", "t"),
                ("MAIL_FROM", "a@b.c"),
                ("EVENT_BUS_NAME", "b"),
                ("JWT_SIGNING_KEYS_FILE", "/tmp/keys.json"),
            ],
            Deployment::Lambda,
        )
        .unwrap();
        assert_eq!(
            config.auth.signing_keys,
            SigningKeysSource::File("/tmp/keys.json".into())
        );
    }

    #[test]
    fn invalid_values_are_named() {
        let err = Config::from(&[("STORE", "redis")], Deployment::Local).unwrap_err();
        assert_eq!(err.var, "STORE");
        let err = Config::from(&[("MAX_BODY_BYTES", "-1")], Deployment::Local).unwrap_err();
        assert_eq!(err.var, "MAX_BODY_BYTES");
        let err = Config::from(&[("FOLLOWING_LIMIT", "0")], Deployment::Local).unwrap_err();
        assert_eq!(err.var, "FOLLOWING_LIMIT");
        let config = Config::from(&[("FOLLOWING_LIMIT", "3")], Deployment::Local).unwrap();
        assert_eq!(config.social.following_limit, 3);
        let err = Config::from(&[("RATE_LIMIT_SCALE", "0")], Deployment::Local).unwrap_err();
        assert_eq!(err.var, "RATE_LIMIT_SCALE");
        let config = Config::from(&[("RATE_LIMIT_SCALE", "40")], Deployment::Local).unwrap();
        assert_eq!(config.auth.rate_limit_scale, 40);
        let config = Config::from(&[("X", "y")], Deployment::Local).unwrap();
        assert_eq!(config.auth.rate_limit_scale, 1);
        let config = Config::from(&[("X", "y")], Deployment::Local).unwrap();
        assert_eq!(config.social.following_limit, 7500);
        assert_eq!(config.social.large_account_followers, 10_000);
        assert_eq!(config.events.retention_days, [90, 365, 730, 730]);
        let config =
            Config::from(&[("EVENT_RETENTION_LOW_DAYS", "30")], Deployment::Local).unwrap();
        assert_eq!(config.events.retention_days, [30, 365, 730, 730]);
        let err =
            Config::from(&[("EVENT_RETENTION_HIGH_DAYS", "0")], Deployment::Local).unwrap_err();
        assert_eq!(err.var, "EVENT_RETENTION_HIGH_DAYS");
    }

    #[test]
    fn the_bus_badge_evaluator_is_off_unless_asked_for() {
        let config = Config::from(&[("X", "y")], Deployment::Local).unwrap();
        assert!(!config.badges.evaluate_on_bus);
        let on = [("BADGES_EVALUATE_ON_BUS", "true")];
        assert!(
            Config::from(&on, Deployment::Local)
                .unwrap()
                .badges
                .evaluate_on_bus
        );
        let bad = [("BADGES_EVALUATE_ON_BUS", "maybe")];
        let err = Config::from(&bad, Deployment::Local).unwrap_err();
        assert_eq!(err.var, "BADGES_EVALUATE_ON_BUS");
    }

    #[test]
    fn injected_faults_are_off_unless_asked_for() {
        use crate::store::faults::{FaultConfig, FaultRate};
        let config = Config::from(&[("X", "y")], Deployment::Local).unwrap();
        assert_eq!(config.store_faults, None);
        let config = Config::from(&[("ACCOUNTS_INJECT_FAULTS", "20%")], Deployment::Local).unwrap();
        assert_eq!(
            config.store_faults,
            Some(FaultConfig::new(FaultRate::parse("0.2").unwrap()))
        );
        let config = Config::from(
            &[
                ("ACCOUNTS_INJECT_FAULTS", "1"),
                ("ACCOUNTS_INJECT_FAULTS_SEED", "7"),
            ],
            Deployment::Local,
        )
        .unwrap();
        assert_eq!(
            config.store_faults,
            Some(FaultConfig::seeded(FaultRate::ALWAYS, 7))
        );
        let err =
            Config::from(&[("ACCOUNTS_INJECT_FAULTS", "1.5")], Deployment::Local).unwrap_err();
        assert_eq!(err.var, "ACCOUNTS_INJECT_FAULTS");
        let err = Config::from(
            &[
                ("ACCOUNTS_INJECT_FAULTS", "0.1"),
                ("ACCOUNTS_INJECT_FAULTS_SEED", "x"),
            ],
            Deployment::Local,
        )
        .unwrap_err();
        assert_eq!(err.var, "ACCOUNTS_INJECT_FAULTS_SEED");
    }
}
