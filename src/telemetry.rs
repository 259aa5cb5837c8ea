//! Structured logs via tracing. Spans carry the request id; fields never carry PII.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, LogSettings, SettingsError};

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `log.level`.
pub fn init(log: &LogSettings) -> Result<(), SettingsError> {
    let filter =
        match std::env::var("RUST_LOG") {
            Ok(directives) => EnvFilter::try_new(&directives)
                .map_err(|e| SettingsError(format!("RUST_LOG: {e}")))?,
            Err(_) => EnvFilter::try_new(&log.level)
                .map_err(|e| SettingsError(format!("log.level: {e}")))?,
        };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    let installed = match log.format {
        // The request's own span is enough; the span list would repeat the same fields.
        LogFormat::Json => builder.json().with_span_list(false).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    installed.map_err(|e| SettingsError(format!("log: {e}")))
}
