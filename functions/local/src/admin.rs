//! accounts-admin: operator commands on the accounts data, with the same `--data-dir` and
//! `--store` options and environment as accounts-local. It may run while accounts-local serves
//! the same data dir: the embedded store is SQLite in WAL mode, and every change goes through
//! the same domain functions (and transactions) as the API.
//!
//! ```text
//! accounts-admin create-admin --username root --email root@example.com   # password on stdin
//! accounts-admin set-role --user 7 --role moderator
//! ```

mod cli;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use accounts::App;
use accounts::accounts::registration::{self, CreateOptions, RegisterInput};
use accounts::accounts::users;
use accounts::auth::client::ClientInfo;
use accounts::error::Error;
use accounts::model::{Role, UserId};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "accounts-admin", about = "Administer the accounts data")]
struct Args {
    #[command(flatten)]
    store: cli::StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a verified administrator account.
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// The password; read from the first line of stdin when omitted (keeps it out of the
        /// shell history and the process list).
        #[arg(long)]
        password: Option<String>,
    },
    /// Set a user's role (owner, normal, data_provider, professional, admin, moderator).
    SetRole {
        /// The user's id.
        #[arg(long)]
        user: i64,
        #[arg(long)]
        role: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    accounts::telemetry::init();
    let args = Args::parse();
    let app = match args.store.build_app().await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("accounts-admin: startup failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&app, args.command).await {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("accounts-admin: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(app: &App, command: Command) -> Result<String, String> {
    match command {
        Command::CreateAdmin {
            username,
            email,
            password,
        } => {
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            let input = RegisterInput {
                username: Some(username),
                email: Some(email),
                password: Some(password),
                ..RegisterInput::default()
            };
            let options = CreateOptions {
                role: Role::Admin,
                is_verified: true,
                created_by: None,
            };
            let user = registration::create_account(app, input, options, &ClientInfo::default())
                .await
                .map_err(describe)?;
            Ok(format!(
                "created admin {} (id {}, {})",
                user.username, user.id, user.email
            ))
        }
        Command::SetRole { user, role } => {
            let role = Role::parse(&role).ok_or_else(|| {
                let allowed: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown role {role:?}; one of {}", allowed.join(", "))
            })?;
            let id: UserId = user
                .to_string()
                .parse()
                .map_err(|_| format!("{user} is not a user id"))?;
            let user = users::set_role(app, None, id, role)
                .await
                .map_err(describe)?;
            Ok(format!(
                "user {} ({}) is now {}",
                user.id,
                user.username,
                user.role.as_str()
            ))
        }
    }
}

/// The first line of stdin, without its line ending; prompts when stdin is a terminal.
fn read_password() -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("no password given (--password or a line on stdin)".into());
    }
    Ok(password)
}

/// One line for an error: field errors as `field: message`, anything else as it prints.
fn describe(error: Error) -> String {
    match error {
        Error::Invalid(fields) => fields
            .0
            .iter()
            .flat_map(|(field, messages)| messages.iter().map(move |m| format!("{field}: {m}")))
            .collect::<Vec<_>>()
            .join("; "),
        Error::NotFound => "no such user".into(),
        other => other.to_string(),
    }
}
