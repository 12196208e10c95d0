//! accounts-admin: operator commands on the accounts data, with the same `--data-dir` and
//! `--store` options and environment as accounts-local. It may run while accounts-local serves
//! the same data dir: the embedded store is SQLite in WAL mode, and every change goes through
//! the same domain functions (and transactions) as the API.
//!
//! ```text
//! accounts-admin create-admin --username root --email root@example.com   # password on stdin
//! accounts-admin set-role --user 7 --role moderator
//! accounts-admin run-task update_user_counters [--max-pages N] [--page-size N]
//! accounts-admin seed --users 10000 [--password P]
//! accounts-admin award-badge --user 7 --badge "Beta Tester" --reason "Joined the beta"
//! accounts-admin install-badges
//! ```

mod cli;
mod progress;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use accounts::App;
use accounts::accounts::registration::{self, CreateOptions, RegisterInput};
use accounts::accounts::users;
use accounts::auth::client::ClientInfo;
use accounts::badges;
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
    /// Award a badge to a user by the badge's name (the seed's `award_badge` command).
    AwardBadge {
        /// The user's id.
        #[arg(long)]
        user: i64,
        /// The badge's name (case-insensitive).
        #[arg(long)]
        badge: String,
        /// Kept as the award's notes.
        #[arg(long, default_value = "Manual award")]
        reason: String,
    },
    /// Run a scheduled task now (carries on from its checkpoint, if a run left one).
    RunTask {
        /// The task's name (see docs/tasks.md); `list` prints them.
        name: String,
        /// Stop (and checkpoint) after this many pages.
        #[arg(long)]
        max_pages: Option<u64>,
        /// Items per page of the walk.
        #[arg(long)]
        page_size: Option<u32>,
    },
    /// Create N synthetic users with follows, events and sessions (tests, benchmarks).
    Seed {
        #[arg(long)]
        users: u64,
        /// Every seeded account's password.
        #[arg(long, default_value = "seeded password 1")]
        password: String,
        /// Transactions in flight at once (1 for moto, which is not safe for concurrent ones).
        #[arg(long, default_value_t = accounts::tasks::seed::PARALLEL)]
        parallel: usize,
    },
    /// Install the seed's 14 badges and the tiered series: creates the missing ones by name, leaves existing ones
    /// (and an administrator's edits of them) alone; safe to run again.
    InstallBadges,
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
    // No metric lines: stdout is each command's answer.
    accounts::telemetry::init_without_metrics();
    let args = Args::parse();
    let app = match args.store.build_app().await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("accounts-admin: startup failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::AwardBadge {
        user,
        badge,
        reason,
    } = &args.command
    {
        return award_badge(&app, *user, badge, reason).await;
    }
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

/// The seed's `award_badge` command: its three messages on stdout, exit status 1 for the
/// failures (the reason of a failed award on stderr).
async fn award_badge(app: &App, user: i64, badge: &str, reason: &str) -> ExitCode {
    let found = match user.to_string().parse::<UserId>() {
        Ok(id) => accounts::accounts::get_user(app, id).await,
        Err(()) => Ok(None),
    };
    let holder = match found {
        Ok(Some(holder)) if !holder.deleting => holder,
        Ok(_) => {
            println!("User not found");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("accounts-admin: {}", describe(e));
            return ExitCode::FAILURE;
        }
    };
    let awarded = badges::awards::award_by_name(
        app,
        accounts::access::Admin::SYSTEM,
        holder.id,
        badge,
        reason,
        badges::awards::AwardedBy::Admin,
    )
    .await;
    match awarded {
        Ok(Some((_, def))) => {
            println!("Badge '{}' awarded to user {}", def.name, holder.username);
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("Badge award failed");
            eprintln!("accounts-admin: user {user} already has the badge {badge:?}");
            ExitCode::FAILURE
        }
        Err(Error::NotFound) => {
            println!("User not found");
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("Badge award failed");
            eprintln!("accounts-admin: {}", describe(e));
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
        Command::AwardBadge { .. } => Err("award-badge runs on its own".into()),
        Command::RunTask {
            name,
            max_pages,
            page_size,
        } => {
            if name == "list" {
                return Ok(accounts::tasks::TASKS.join("\n"));
            }
            let mut budget = accounts::tasks::Budget::unlimited();
            budget.max_pages = max_pages;
            if let Some(size) = page_size {
                budget = budget.with_page_size(size);
            }
            // The embedded store's change feed first, as accounts-local applies it every
            // second: the report reads the day counts it keeps.
            if let accounts::config::StoreConfig::Embedded { data_dir } = &app.config.store {
                let feed = accounts::store::embedded::ChangeFeed::open(data_dir)
                    .map_err(|e| format!("the change feed: {e}"))?;
                accounts::activity::day_counts::apply_feed(app, &feed)
                    .await
                    .map_err(describe)?;
            }
            let spinner = progress::Progress::spinner(format!("running {name}"));
            let record = accounts::tasks::run(app, &name, &budget).await;
            spinner.finish();
            let record = record.map_err(describe)?;
            // The summary for the operator on stderr; stdout stays the JSON record.
            eprintln!(
                "{}: {:?} in {:.1} s, {} pages, {} items read, {} written, {} fixed",
                record.task,
                record.status,
                record.duration_ms as f64 / 1000.0,
                record.pages,
                record.items_read,
                record.items_written,
                record.items_fixed
            );
            serde_json::to_string(&record).map_err(|e| e.to_string())
        }
        Command::Seed {
            users,
            password,
            parallel,
        } => {
            let started = std::time::Instant::now();
            // One hash for every account: hashing per user would take hours for 100k.
            let hash = accounts::auth::passwords::hash_password(&password)
                .await
                .map_err(describe)?;
            let bar = std::cell::RefCell::new(progress::Progress::counted(users, "users", 10_000));
            let seeded = accounts::tasks::seed::seed(app, users, &hash, parallel, |done| {
                bar.borrow_mut().set(done)
            })
            .await;
            bar.into_inner().finish();
            let seeded = seeded.map_err(describe)?;
            Ok(format!(
                "seeded users {}..={} ({} items) in {:.1} s",
                seeded.first,
                seeded.last,
                seeded.items,
                started.elapsed().as_secs_f64()
            ))
        }
        Command::InstallBadges => {
            let report = badges::catalogue::install(app).await.map_err(describe)?;
            Ok(format!(
                "badges installed: {} created [{}], {} already there [{}]",
                report.created.len(),
                report.created.join(", "),
                report.existing.len(),
                report.existing.join(", ")
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
            let user = users::set_role(app, accounts::access::Actor::System, id, role)
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
