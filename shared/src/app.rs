//! The application: the ports and the configuration, built once per process (at a Lambda's
//! cold start, or when accounts-local starts) and shared by every request.

use std::sync::Arc;

use crate::bus::EventBus;
use crate::bus::eventbridge::EventBridgeBus;
use crate::bus::in_process::InProcessBus;
use crate::clock::{Clock, SystemClock};
use crate::config::{BusConfig, Config, ConfigError, Deployment, MailConfig, StoreConfig};
use crate::mail::Mailer;
use crate::mail::outbox::OutboxMailer;
use crate::mail::ses::SesMailer;
use crate::store::dynamo::DynamoTable;
use crate::store::faults::FaultyTable;
use crate::store::retry::{RetryPolicy, RetryingTable};
use crate::store::{StoreError, Table};

pub struct App {
    pub table: Arc<dyn Table>,
    pub mailer: Arc<dyn Mailer>,
    pub bus: Arc<dyn EventBus>,
    /// The in-process bus when that is the configured bus, so a local process can subscribe.
    pub in_process_bus: Option<Arc<InProcessBus>>,
    pub clock: Arc<dyn Clock>,
    /// The JWT signing keys (the first signs, all verify).
    pub keys: Arc<crate::auth::jwt::KeySet>,
    /// The keys that seal second-factor secrets (`auth/sealed.rs`).
    pub seal_keys: Arc<crate::auth::sealed::SealKeys>,
    pub config: Config,
    /// This process's copy of the active badge definitions (`badges::definitions`).
    pub active_badges: Arc<crate::badges::definitions::ActiveCache>,
    /// The large accounts this process has met (`social::large`).
    pub large_accounts: Arc<crate::social::large::LargeAccounts>,
    /// This process's reserved block of user ids (`accounts::registration`).
    pub user_ids: Arc<crate::accounts::registration::IdBlock>,
    /// This process's request budgets per caller (`auth/budget.rs`).
    pub budgets: crate::auth::budget::Budgets,
}

/// The ports of an App without the App, for an in-process bus subscriber: the bus holds its
/// subscribers, so a subscriber holds the bus weakly and rebuilds an App per event.
pub(crate) struct AppParts {
    table: Arc<dyn Table>,
    mailer: Arc<dyn Mailer>,
    bus: std::sync::Weak<InProcessBus>,
    clock: Arc<dyn Clock>,
    keys: Arc<crate::auth::jwt::KeySet>,
    seal_keys: Arc<crate::auth::sealed::SealKeys>,
    config: Config,
    active_badges: Arc<crate::badges::definitions::ActiveCache>,
    large_accounts: Arc<crate::social::large::LargeAccounts>,
    user_ids: Arc<crate::accounts::registration::IdBlock>,
}

impl AppParts {
    /// The parts of `app`, which must use the in-process bus.
    pub(crate) fn of(app: &App) -> Option<AppParts> {
        let bus = app.in_process_bus.as_ref()?;
        Some(AppParts {
            table: app.table.clone(),
            mailer: app.mailer.clone(),
            bus: Arc::downgrade(bus),
            clock: app.clock.clone(),
            keys: app.keys.clone(),
            seal_keys: app.seal_keys.clone(),
            config: app.config.clone(),
            active_badges: app.active_badges.clone(),
            large_accounts: app.large_accounts.clone(),
            user_ids: app.user_ids.clone(),
        })
    }

    /// An App over the parts; `None` once the bus (and so the App it served) is gone.
    pub(crate) fn app(&self) -> Option<App> {
        let bus = self.bus.upgrade()?;
        Some(App {
            table: self.table.clone(),
            mailer: self.mailer.clone(),
            bus: bus.clone(),
            in_process_bus: Some(bus),
            clock: self.clock.clone(),
            keys: self.keys.clone(),
            seal_keys: self.seal_keys.clone(),
            config: self.config.clone(),
            active_badges: self.active_badges.clone(),
            large_accounts: self.large_accounts.clone(),
            user_ids: self.user_ids.clone(),
            budgets: Default::default(),
        })
    }
}

/// Why a process could not start: one line that names the cause.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{what}: {reason}")]
    Io { what: String, reason: String },
}

impl App {
    /// Reads the environment and builds the App with the real clock.
    pub async fn from_env(deployment: Deployment) -> Result<App, StartupError> {
        let config = Config::from_env(deployment)?;
        App::build(config, Arc::new(SystemClock)).await
    }

    /// Builds every port from the configuration. The AWS SDK configuration is loaded only when
    /// some port needs it, and then once.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<App, StartupError> {
        let needs_aws = matches!(config.store, StoreConfig::DynamoDb { .. })
            || matches!(config.mail, MailConfig::Ses { .. })
            || matches!(config.bus, BusConfig::EventBridge { .. });
        let sdk = if needs_aws {
            Some(crate::aws::sdk_config(config.aws_trust_store).await?)
        } else {
            None
        };

        let table: Arc<dyn Table> = match &config.store {
            #[cfg(feature = "local")]
            StoreConfig::Embedded { data_dir } => Arc::new(
                crate::store::embedded::EmbeddedTable::open(data_dir, clock.clone())?,
            ),
            // The Lambda functions are built without the embedded engine (feature `local`).
            #[cfg(not(feature = "local"))]
            StoreConfig::Embedded { .. } => {
                return Err(StartupError::Config(ConfigError::new(
                    "STORE",
                    "`embedded` is not in this build (accounts-local has it); use dynamodb",
                )));
            }
            StoreConfig::DynamoDb {
                table_name,
                create_if_missing,
            } => {
                // The store's retries are `RetryingTable`'s (in `assemble`); the SDK's own would
                // multiply them, so the table's client makes one attempt per call.
                let table_sdk = sdk
                    .as_ref()
                    .expect("loaded above")
                    .to_builder()
                    .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
                    .build();
                let table = DynamoTable::new(&table_sdk, table_name.clone(), clock.clone());
                if *create_if_missing {
                    #[cfg(feature = "local")]
                    table.create_table_if_missing().await?;
                    // In AWS the SAM template owns the table (feature `local` creates tables).
                    #[cfg(not(feature = "local"))]
                    return Err(StartupError::Config(ConfigError::new(
                        "CREATE_TABLE",
                        "creating the table is accounts-local's; this build only uses one",
                    )));
                }
                Arc::new(table)
            }
        };

        App::assemble(config, clock, table, sdk.as_ref()).await
    }

    /// Builds the App around a table that already exists (tests inject theirs); mail, bus and
    /// keys come from the configuration. Every store call goes through
    /// [`RetryingTable`] (bounded, jittered retries of throttling, timeouts and conflicts),
    /// and, when `config.store_faults` asks for it, through a [`FaultyTable`] below that.
    pub async fn assemble(
        config: Config,
        clock: Arc<dyn Clock>,
        table: Arc<dyn Table>,
        sdk: Option<&crate::aws::SdkConfig>,
    ) -> Result<App, StartupError> {
        let needs_sdk = matches!(config.mail, MailConfig::Ses { .. })
            || matches!(config.bus, BusConfig::EventBridge { .. });
        let loaded;
        let sdk = match sdk {
            Some(sdk) => Some(sdk),
            None if needs_sdk => {
                loaded = crate::aws::sdk_config(config.aws_trust_store).await?;
                Some(&loaded)
            }
            None => None,
        };
        let mailer: Arc<dyn Mailer> = match &config.mail {
            MailConfig::Outbox { dir } => Arc::new(
                OutboxMailer::new(dir.clone(), config.mail_from.clone()).map_err(|e| {
                    StartupError::Io {
                        what: format!("outbox {}", dir.display()),
                        reason: e.to_string(),
                    }
                })?,
            ),
            MailConfig::Ses {
                from,
                configuration_set,
            } => Arc::new(
                SesMailer::new(sdk.expect("loaded above"), from.clone())
                    .with_configuration_set(configuration_set.clone()),
            ),
        };

        let (bus, in_process_bus): (Arc<dyn EventBus>, _) = match &config.bus {
            BusConfig::InProcess => {
                let bus = Arc::new(InProcessBus::new());
                (bus.clone(), Some(bus))
            }
            BusConfig::EventBridge { bus_name } => (
                Arc::new(EventBridgeBus::new(
                    sdk.expect("loaded above"),
                    bus_name.clone(),
                )),
                None,
            ),
        };

        // Faults are injected below the retries, so they take the path a real one takes.
        let table: Arc<dyn Table> = match config.store_faults {
            Some(faults) => {
                // accounts-local says so in its ready line; a function says so in its log.
                if config.deployment == Deployment::Lambda {
                    tracing::warn!(rate = %faults.rate, "store calls fail on purpose (ACCOUNTS_INJECT_FAULTS)");
                }
                Arc::new(FaultyTable::new(table, faults))
            }
            None => table,
        };
        // A latency model of DynamoDB's round trips, for accounts-local (docs/benchmarks.md).
        let table: Arc<dyn Table> = match config.store_latency {
            Some(delay) => Arc::new(crate::store::latency::LatencyTable::new(table, delay)),
            None => table,
        };
        let table: Arc<dyn Table> = Arc::new(RetryingTable::new(table, RetryPolicy::STORE));

        let keys = crate::auth::jwt::KeySet::load(&config.auth.signing_keys)
            .map_err(|reason| StartupError::Config(ConfigError::new("JWT_SIGNING_KEYS", reason)))?;
        let seal_keys = crate::auth::sealed::SealKeys::load(&config.auth.mfa_secret_keys)
            .map_err(|reason| StartupError::Config(ConfigError::new("MFA_SECRET_KEYS", reason)))?;

        let app = App {
            table,
            mailer,
            bus,
            in_process_bus,
            clock,
            keys: Arc::new(keys),
            seal_keys: Arc::new(seal_keys),
            config,
            active_badges: Default::default(),
            large_accounts: Default::default(),
            user_ids: Default::default(),
            budgets: Default::default(),
        };
        // Only a local process has an in-process bus worth subscribing to; leaving the evaluator
        // out of the Lambda functions' App keeps it out of their binaries.
        #[cfg(feature = "local")]
        if app.config.badges.evaluate_on_bus
            && let (Some(bus), Some(evaluator)) = (
                &app.in_process_bus,
                crate::badges::evaluate::BusEvaluator::new(&app),
            )
        {
            // Locally, domain events reach the badge evaluator as EventBridge brings them to
            // the `badge-events` function in AWS.
            bus.subscribe(Arc::new(evaluator));
        }
        // Notifications are made where the evaluator runs (the `badge-events` function in AWS).
        #[cfg(feature = "local")]
        if app.config.badges.evaluate_on_bus
            && let (Some(bus), Some(notifier)) = (
                &app.in_process_bus,
                crate::notifications::BusNotifier::new(&app),
            )
        {
            bus.subscribe(Arc::new(notifier));
        }
        // Code mails asked for by address are handled after the answer (accounts/code_mail.rs).
        if let (Some(bus), Some(mailer)) = (
            &app.in_process_bus,
            crate::accounts::code_mail::CodeMailSubscriber::new(&app),
        ) {
            bus.subscribe(Arc::new(mailer));
        }
        Ok(app)
    }
}
