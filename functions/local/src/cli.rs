//! What accounts-local and accounts-admin share: the `--data-dir` and `--store` options (with
//! their environment variables) and building the App from them, so both open the same data.

use std::collections::HashMap;
use std::sync::Arc;

use accounts::App;
use accounts::app::StartupError;
use accounts::config::{Config, Deployment, Env, ProcessEnv};
use clap::Args;

/// Where the data is.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Directory for the embedded database and the mail outbox.
    #[arg(long, env = "DATA_DIR", default_value = ".local", global = true)]
    pub data_dir: String,
    /// Storage engine: embedded (SQLite in the data dir) or dynamodb (TABLE_NAME,
    /// AWS_ENDPOINT_URL; the table is created when missing).
    #[arg(long, env = "STORE", default_value = "embedded", global = true)]
    pub store: String,
}

/// The process environment with the command line's values on top.
struct ArgsEnv(HashMap<&'static str, String>);

impl Env for ArgsEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned().or_else(|| ProcessEnv.var(name))
    }
}

impl StoreArgs {
    /// The App over the configured store, with the real clock.
    pub async fn build_app(&self) -> Result<App, StartupError> {
        self.build_app_with(Vec::new()).await
    }

    /// The same, with more settings from a command's own options (they win over the
    /// environment).
    pub async fn build_app_with(
        &self,
        extra: Vec<(&'static str, String)>,
    ) -> Result<App, StartupError> {
        let mut env = ArgsEnv(HashMap::from([
            ("DATA_DIR", self.data_dir.clone()),
            ("STORE", self.store.clone()),
            (
                "TABLE_NAME",
                ProcessEnv
                    .var("TABLE_NAME")
                    .unwrap_or_else(|| "accounts-local".into()),
            ),
        ]));
        // Locally the in-process bus feeds the badge evaluator unless told otherwise.
        env.0.insert(
            "BADGES_EVALUATE_ON_BUS",
            ProcessEnv
                .var("BADGES_EVALUATE_ON_BUS")
                .unwrap_or_else(|| "true".into()),
        );
        env.0.extend(extra);
        let config = Config::from(&env, Deployment::Local)?;
        App::build(config, Arc::new(accounts::clock::SystemClock)).await
    }
}
