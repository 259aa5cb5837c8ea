use std::process::ExitCode;

use clap::{Parser, Subcommand};
use coproduce::commands::{self, AdminOutcome};
use coproduce::db::Database;
use coproduce::settings::Settings;
use coproduce::startup::Application;
use coproduce::state::AppState;
use coproduce::telemetry;

/// coproduce: recruitment and matching of freelance co-producers.
///
/// Configuration comes from config/default.toml, config/{APP_ENV}.toml and APP_SECTION__KEY
/// environment variables (for example APP_DATABASE__URL=postgres://…).
#[derive(Parser)]
#[command(name = "coproduce", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP service (the default). Applies pending migrations first.
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Rewrite encrypted data under the current crypto.data_key after a key rotation
    /// (put the old key in crypto.previous_keys first).
    Reencrypt,
    /// Send queued email and run the reminder, invitation-expiry and retention jobs, without serving HTTP
    /// (run it where servers set APP_EMAIL__WORKER=false). Several may run at once on PostgreSQL.
    Worker,
    /// Create the first administrator, or make an existing account an administrator.
    ///
    /// The password must be at least 12 characters. It is stored as an argon2id hash.
    CreateAdmin {
        /// Email address the administrator signs in with.
        #[arg(long)]
        email: String,
        /// Password for signing in (at least 12 characters). To keep it out of the process
        /// list and shell history, set COPRODUCE_ADMIN_PASSWORD instead.
        #[arg(long, env = "COPRODUCE_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (settings, environment) = match Settings::load() {
        Ok(loaded) => loaded,
        Err(error) => return fail(&error),
    };
    // Held to the end of `main`: dropping it writes out the last log lines.
    let _log = match telemetry::init(&settings.log) {
        Ok(guard) => guard,
        Err(error) => return fail(&error),
    };
    if let Some(warning) = settings.email.unanswered_replies(environment) {
        tracing::warn!("{warning}");
    }
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Worker => run_worker(settings).await,
        Command::Reencrypt => tokio::task::spawn_blocking(move || commands::reencrypt(&settings))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|result| result)
            .map(|count| println!("Re-encrypted {count} value(s) under the current key.")),
        Command::Migrate => tokio::task::spawn_blocking(move || commands::migrate(&settings))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|result| result)
            .map(|applied| {
                if applied.is_empty() {
                    println!("The database is up to date.");
                } else {
                    println!("Applied {} migration(s): {}", applied.len(), applied.join(", "));
                }
            }),
        Command::CreateAdmin { email, password } => tokio::task::spawn_blocking(move || {
            commands::create_admin(&settings, &email, &password)
        })
        .await
        .map_err(anyhow::Error::from)
        .and_then(|result| result)
        .map(|outcome| match outcome {
            AdminOutcome::Created => println!("Administrator account created."),
            AdminOutcome::Promoted => {
                println!("That account already existed; it is now an administrator with the new password.")
            }
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&format!("{error:#}")),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let application = Application::build(settings).await?;
    application.run_until_stopped().await?;
    Ok(())
}

/// Ctrl-C, or SIGTERM (how service managers stop a process), so `main` ends and writes out the
/// last log lines.
async fn stop_requested() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        signal = tokio::signal::ctrl_c() => signal,
        _ = terminate.recv() => Ok(()),
    }
}

/// Sends queued email and runs the jobs until stopped.
async fn run_worker(settings: Settings) -> anyhow::Result<()> {
    let database_settings = settings.database.clone();
    let db = tokio::task::spawn_blocking(move || Database::connect(&database_settings)).await??;
    println!(
        "coproduce outbox worker running (database: {})",
        db.url().describe()
    );
    let state = AppState::new(db, settings)?;
    tokio::spawn(coproduce::jobs::run(state.clone()));
    tokio::select! {
        () = state.outbox_worker().run() => {}
        stop = stop_requested() => stop?,
    }
    Ok(())
}

/// Prints the error on one line (drivers such as libpq add line breaks and hints).
fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    let text = error.to_string();
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("error: {one_line}");
    ExitCode::FAILURE
}
