//! Typed settings. Layers, later wins: defaults in code → `config/default.toml` →
//! `config/{APP_ENV}.toml` → `APP_<SECTION>__<KEY>` environment variables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use config::{Config, Environment as EnvSource, File, FileFormat};
use serde::{Deserialize, Serialize};

use crate::db::url::DatabaseUrl;

/// The development data key (32 bytes, base64); refused in production.
pub const DEV_DATA_KEY: &str = "ZGV2LW9ubHktZGF0YS1rZXktbm90LWZvci1wcm9kLiE=";

/// The development signing secret; refused in production.
pub const DEV_JWT_SECRET: &str = "dev-only-secret-do-not-use-in-production-0000";
const MIN_PRODUCTION_SECRET_LEN: usize = 32;

/// Environment variables read directly rather than as `section.key` settings.
const NON_SETTING_VARS: [&str; 2] = ["APP_ENV", "APP_CONFIG_DIR"];

/// List settings an environment variable gives comma-separated, e.g. `10.0.0.0/8,fd00::/8`.
/// (Base64 keys hold no commas.)
const LIST_VARS: [(&str, &str); 2] = [
    ("APP_SERVER__TRUSTED_PROXIES", "server.trusted_proxies"),
    ("APP_CRYPTO__PREVIOUS_KEYS", "crypto.previous_keys"),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub email: EmailSettings,
    pub rate_limit: RateLimitSettings,
    pub crypto: CryptoSettings,
    pub catalogue: CatalogueSettings,
    pub rounds: RoundSettings,
    pub requests: RequestSettings,
    pub claims: ClaimSettings,
    pub adjustments: AdjustmentSettings,
    pub what_changed: WhatChangedSettings,
    pub bookings: BookingSettings,
    pub matching: MatchingSettings,
    pub retention: RetentionSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub public_url: String,
    pub workers: usize,
    pub json_limit_bytes: usize,
    /// How long a request body may take to arrive, from the moment it is first read: a client
    /// sending it very slowly would otherwise hold its connection until the limit is reached.
    pub body_timeout_ms: u64,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
}

impl ServerSettings {
    /// An address people open, e.g. `link("/applications/0190")` → `https://host/applications/0190`.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.trim_end_matches('/'))
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            public_url: "http://127.0.0.1:8080".into(),
            workers: 0,
            json_limit_bytes: 256 * 1024,
            body_timeout_ms: 15_000,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub pool_timeout_ms: u64,
    pub busy_timeout_ms: u64,
    pub run_migrations: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/coproduce.db".into(),
            pool_size: 8,
            pool_timeout_ms: 5000,
            busy_timeout_ms: 5000,
            run_migrations: true,
        }
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: String,
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl_secs: u64,
    pub magic_link_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
    pub invitation_ttl_days: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: DEV_JWT_SECRET.into(),
            issuer: "coproduce".into(),
            audience: "coproduce-api".into(),
            access_token_ttl_secs: 900,
            magic_link_ttl_secs: 900,
            refresh_token_ttl_days: 30,
            invitation_ttl_days: 7,
        }
    }
}

// The secret must never reach a log line through `{:?}`.
impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("magic_link_ttl_secs", &self.magic_link_ttl_secs)
            .field("refresh_token_ttl_days", &self.refresh_token_ttl_days)
            .field("invitation_ttl_days", &self.invitation_ttl_days)
            .finish()
    }
}

/// More would open more connections than a small relay welcomes from one sender.
pub const MAX_CONCURRENT_SENDS: u32 = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSettings {
    pub transport: EmailTransport,
    pub file_dir: String,
    pub smtp_url: String,
    pub from: String,
    /// Where replies go ("" for nowhere): emails ask people to reply with questions.
    pub reply_to: String,
    pub templates_dir: String,
    pub smtp_timeout_secs: u64,
    pub worker: bool,
    pub poll_interval_ms: u64,
    pub batch_size: u32,
    pub concurrent_sends: u32,
    pub max_attempts: u32,
    pub retry_base_secs: u64,
    pub retry_max_secs: u64,
    /// The hour of the day (UTC, 0–23) when routine updates held for people who chose one
    /// digest go out together.
    pub digest_hour: u32,
}

impl EmailSettings {
    /// Why replies would reach nobody in production (emails ask people to reply), if they would.
    pub fn unanswered_replies(&self, environment: AppEnvironment) -> Option<&'static str> {
        let nobody = self.reply_to.trim().is_empty() || self.reply_to.contains(".localhost");
        (environment == AppEnvironment::Production && nobody).then_some(
            "email.reply_to is not an address anyone reads: emails ask people to reply with \
             questions, so set APP_EMAIL__REPLY_TO to the coordinators' shared inbox",
        )
    }
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            transport: EmailTransport::File,
            file_dir: "data/mail".into(),
            smtp_url: "smtp://127.0.0.1:25".into(),
            from: "coproduce <no-reply@coproduce.localhost>".into(),
            reply_to: "coproduce coordinators <coordinators@coproduce.localhost>".into(),
            templates_dir: String::new(),
            smtp_timeout_secs: 10,
            worker: true,
            poll_interval_ms: 1000,
            batch_size: 20,
            concurrent_sends: 2,
            max_attempts: 8,
            retry_base_secs: 30,
            retry_max_secs: 3600,
            digest_hour: 16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransport {
    Smtp,
    File,
    Memory,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    pub per_ip_per_minute: u32,
    pub per_email_per_hour: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            per_ip_per_minute: 30,
            per_email_per_hour: 10,
        }
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CryptoSettings {
    pub data_key: String,
    pub previous_keys: Vec<String>,
}

impl Default for CryptoSettings {
    fn default() -> Self {
        Self {
            data_key: DEV_DATA_KEY.into(),
            previous_keys: Vec::new(),
        }
    }
}

impl std::fmt::Debug for CryptoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoSettings")
            .field("data_key", &"<redacted>")
            .field(
                "previous_keys",
                &format!("<{} redacted>", self.previous_keys.len()),
            )
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogueSettings {
    pub path: String,
}

impl Default for CatalogueSettings {
    fn default() -> Self {
        Self {
            path: "config/catalogue.toml".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoundSettings {
    pub default_answer_by_days: u32,
    pub reminder_days_before: u32,
    pub reminder_check_secs: u64,
    /// The hour of the day (UTC, 0–23) from which that day's decision reminders go, and
    /// reminders to people of applications not sent yet and of passport review dates.
    pub reminder_hour: u32,
    /// People with an application not sent yet are reminded this many days before its round
    /// closes.
    pub draft_reminder_days_before: u32,
}

impl Default for RoundSettings {
    fn default() -> Self {
        Self {
            default_answer_by_days: 21,
            reminder_days_before: 5,
            reminder_check_secs: 3600,
            reminder_hour: 9,
            draft_reminder_days_before: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimSettings {
    /// Coordinators are reminded, once a day, of claims that have waited this many days for a
    /// decision, or for payment once approved.
    pub remind_after_days: u32,
    /// The hour of the day (UTC, 0–23) from which that day's reminder goes.
    pub remind_hour: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdjustmentSettings {
    /// Coordinators are reminded, once a day, of bookings with a session this many days ahead
    /// or sooner whose access adjustments are not all arranged.
    pub remind_days_before: u32,
    /// The hour of the day (UTC, 0–23) from which that day's reminder goes.
    pub remind_hour: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhatChangedSettings {
    /// Coordinators are reminded, once a day, of elements completed this many days ago or more
    /// whose people have not been told what changed.
    pub remind_after_days: u32,
    /// The hour of the day (UTC, 0–23) from which that day's reminder goes.
    pub remind_hour: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BookingSettings {
    /// Coordinators are reminded, once a day, of bookings still `confirmed` this many days or
    /// more after their element's last session ended.
    pub remind_after_days: u32,
    /// The hour of the day (UTC, 0–23) from which that day's reminder goes.
    pub remind_hour: u32,
    /// People booked are reminded of each session this many hours before it starts (0: never).
    pub session_reminder_hours: u32,
    /// Coordinators are reminded, once a day, of open elements still short of people whose
    /// first session is this many days away or fewer (0: never).
    pub short_remind_days_before: u32,
}

impl Default for BookingSettings {
    fn default() -> Self {
        Self {
            remind_after_days: 2,
            remind_hour: 9,
            session_reminder_hours: 48,
            short_remind_days_before: 7,
        }
    }
}

impl Default for WhatChangedSettings {
    fn default() -> Self {
        Self {
            remind_after_days: 14,
            remind_hour: 9,
        }
    }
}

impl Default for AdjustmentSettings {
    fn default() -> Self {
        Self {
            remind_days_before: 7,
            remind_hour: 9,
        }
    }
}

impl Default for ClaimSettings {
    fn default() -> Self {
        Self {
            remind_after_days: 5,
            remind_hour: 9,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestSettings {
    pub minimum_hourly_rate_pence: i64,
    pub notice_days: i64,
    pub long_commitment_hours: i32,
}

impl Default for RequestSettings {
    fn default() -> Self {
        Self {
            minimum_hourly_rate_pence: 1500,
            notice_days: 14,
            long_commitment_hours: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchingSettings {
    pub weights: crate::matching::Weights,
    /// Seats one person may take in one plan.
    pub per_person_limit: u32,
    /// Points a person's second seat in one plan costs; the third costs twice that, and so on.
    pub extra_seat_penalty: f64,
}

impl Default for MatchingSettings {
    fn default() -> Self {
        Self {
            weights: crate::matching::Weights::default(),
            per_person_limit: 1,
            extra_seat_penalty: 15.0,
        }
    }
}

/// How long each kind of record is kept before the retention job removes or anonymises it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Months after the decision (or withdrawal) before an unsuccessful application's content goes.
    pub unsuccessful_application_months: u32,
    /// Months without a change before a draft application is deleted.
    pub draft_application_months: u32,
    /// Hours an Idempotency-Key's stored answer is replayed for.
    pub idempotency_key_hours: u32,
    /// Days a sent email's row (recipient and subject; the body goes at sending) is kept.
    pub sent_email_days: u32,
    /// Days an email that could not be sent is kept for coordinators to retry.
    pub dead_email_days: u32,
    /// Days after expiry (or revocation) that sign-in links, sessions and invitations are kept.
    pub expired_sign_in_days: u32,
    /// Years the audit trail of special-category reads is kept.
    pub audit_log_years: u32,
    /// Whole tax years a claim for time and expenses is kept after the one it was paid or
    /// rejected in (financial records; at least 6).
    pub settled_claim_years: u32,
    /// Days after a booking ended (done, missed or withdrawn) that what was arranged for the
    /// person's access needs on it is kept.
    pub ended_booking_arrangement_days: u32,
    /// Rows changed per transaction, so the job never holds the database for long.
    pub batch_size: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            unsuccessful_application_months: 12,
            draft_application_months: 6,
            idempotency_key_hours: 24,
            sent_email_days: 30,
            dead_email_days: 90,
            expired_sign_in_days: 7,
            audit_log_years: 6,
            settled_claim_years: 6,
            ended_booking_arrangement_days: 30,
            batch_size: 500,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Pretty,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Which deployment this is, from `APP_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnvironment {
    Local,
    Test,
    Production,
}

impl AppEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Test => "test",
            Self::Production => "production",
        }
    }
}

impl std::str::FromStr for AppEnvironment {
    type Err = SettingsError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "test" => Ok(Self::Test),
            "production" => Ok(Self::Production),
            other => Err(SettingsError(format!(
                "APP_ENV: `{other}` is not an environment; use local, test or production"
            ))),
        }
    }
}

/// A configuration problem, described in one line that names the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: {0}")]
pub struct SettingsError(pub String);

impl Settings {
    /// Loads settings for this process from `./config` (or `APP_CONFIG_DIR`) and the environment.
    pub fn load() -> Result<(Settings, AppEnvironment), SettingsError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        let dir = vars
            .get("APP_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        let environment = match vars.get("APP_ENV") {
            Some(value) => value.parse()?,
            None => AppEnvironment::Local,
        };
        let settings = Self::load_from(&dir, environment, &vars)?;
        Ok((settings, environment))
    }

    /// Loads settings from an explicit folder and variable map (pure, so tests can drive it).
    pub fn load_from(
        dir: &Path,
        environment: AppEnvironment,
        vars: &HashMap<String, String>,
    ) -> Result<Settings, SettingsError> {
        let defaults = Config::try_from(&Settings::default()).map_err(describe)?;
        let overrides: HashMap<String, String> = vars
            .iter()
            .filter(|(name, _)| {
                name.starts_with("APP_")
                    && !NON_SETTING_VARS.contains(&name.as_str())
                    && !LIST_VARS.iter().any(|(var, _)| var == name)
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let mut builder = Config::builder()
            .add_source(defaults)
            .add_source(File::from(dir.join("default.toml")).required(false))
            .add_source(
                File::from(dir.join(format!("{}.toml", environment.as_str())))
                    .format(FileFormat::Toml)
                    .required(false),
            )
            .add_source(
                EnvSource::with_prefix("APP")
                    .prefix_separator("_")
                    .separator("__")
                    .source(Some(overrides)),
            );
        for (var, key) in LIST_VARS {
            if let Some(value) = vars.get(var) {
                let items: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(String::from)
                    .collect();
                builder = builder.set_override(key, items).map_err(describe)?;
            }
        }
        let settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(describe)?;
        settings.check(environment)?;
        Ok(settings)
    }

    /// Rules serde cannot express.
    fn check(&self, environment: AppEnvironment) -> Result<(), SettingsError> {
        DatabaseUrl::parse(&self.database.url)
            .map_err(|problem| SettingsError(format!("database.url: {problem}")))?;
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return Err(SettingsError(
                "server.public_url: must start with http:// or https://".into(),
            ));
        }
        crate::auth::client_ip::TrustedProxies::parse(&self.server.trusted_proxies)
            .map_err(SettingsError)?;
        if self.server.body_timeout_ms < 1000 {
            return Err(SettingsError(
                "server.body_timeout_ms: must be at least 1000 (one second)".into(),
            ));
        }
        if self.database.pool_size == 0 {
            return Err(SettingsError(
                "database.pool_size: must be at least 1".into(),
            ));
        }
        if self.rate_limit.per_ip_per_minute == 0 || self.rate_limit.per_email_per_hour == 0 {
            return Err(SettingsError(
                "rate_limit: limits must be at least 1".into(),
            ));
        }
        if self.retention.batch_size == 0 {
            return Err(SettingsError(
                "retention.batch_size: must be at least 1".into(),
            ));
        }
        if !(self.matching.extra_seat_penalty >= 0.0
            && self.matching.extra_seat_penalty.is_finite())
        {
            return Err(SettingsError(
                "matching.extra_seat_penalty: must be zero or more".into(),
            ));
        }
        if !(1..=MAX_CONCURRENT_SENDS).contains(&self.email.concurrent_sends) {
            return Err(SettingsError(format!(
                "email.concurrent_sends: must be from 1 to {MAX_CONCURRENT_SENDS}"
            )));
        }
        // Zero would lease each batch for no time at all: every send skipped, the batch claimed again.
        if self.email.smtp_timeout_secs == 0 {
            return Err(SettingsError(
                "email.smtp_timeout_secs: must be at least 1".into(),
            ));
        }
        if self.retention.settled_claim_years < 6 {
            return Err(SettingsError(
                "retention.settled_claim_years: must be at least 6 (HMRC asks for financial records to be kept six years)".into(),
            ));
        }
        if self.retention.audit_log_years == 0 {
            return Err(SettingsError(
                "retention.audit_log_years: must be at least 1".into(),
            ));
        }
        if self.claims.remind_after_days == 0 {
            return Err(SettingsError(
                "claims.remind_after_days: must be at least 1".into(),
            ));
        }
        if self.rounds.reminder_hour > 23 {
            return Err(SettingsError(
                "rounds.reminder_hour: must be an hour of the day, from 0 to 23".into(),
            ));
        }
        if self.claims.remind_hour > 23 {
            return Err(SettingsError(
                "claims.remind_hour: must be an hour of the day, from 0 to 23".into(),
            ));
        }
        if !(1..=60).contains(&self.adjustments.remind_days_before) {
            return Err(SettingsError(
                "adjustments.remind_days_before: must be from 1 to 60 days".into(),
            ));
        }
        if self.adjustments.remind_hour > 23 {
            return Err(SettingsError(
                "adjustments.remind_hour: must be an hour of the day, from 0 to 23".into(),
            ));
        }
        if self.what_changed.remind_after_days == 0 {
            return Err(SettingsError(
                "what_changed.remind_after_days: must be at least 1".into(),
            ));
        }
        if self.what_changed.remind_hour > 23 {
            return Err(SettingsError(
                "what_changed.remind_hour: must be an hour of the day, from 0 to 23".into(),
            ));
        }
        if !(1..=60).contains(&self.rounds.draft_reminder_days_before) {
            return Err(SettingsError(
                "rounds.draft_reminder_days_before: must be from 1 to 60".into(),
            ));
        }
        if !(1..=365).contains(&self.bookings.remind_after_days) {
            return Err(SettingsError(
                "bookings.remind_after_days: must be from 1 to 365".into(),
            ));
        }
        if self.bookings.short_remind_days_before > 60 {
            return Err(SettingsError(
                "bookings.short_remind_days_before: must be from 0 (never) to 60".into(),
            ));
        }
        if self.bookings.session_reminder_hours > 336 {
            return Err(SettingsError(
                "bookings.session_reminder_hours: must be from 0 (never) to 336 (two weeks)".into(),
            ));
        }
        if self.bookings.remind_hour > 23 {
            return Err(SettingsError(
                "bookings.remind_hour: must be an hour of the day, from 0 to 23".into(),
            ));
        }
        if self.email.digest_hour > 23 {
            return Err(SettingsError(
                "email.digest_hour: must be an hour of the day, from 0 to 23".into(),
            ));
        }
        if self.email.max_attempts == 0 {
            return Err(SettingsError(
                "email.max_attempts: must be at least 1".into(),
            ));
        }
        if self.email.transport == EmailTransport::Smtp
            && !(self.email.smtp_url.starts_with("smtp://")
                || self.email.smtp_url.starts_with("smtps://"))
        {
            return Err(SettingsError(
                "email.smtp_url: must start with smtp:// (add ?tls=required for STARTTLS) or smtps://".into(),
            ));
        }
        if self.email.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(SettingsError(
                "email.from: must be an address such as \"coproduce <no-reply@example.org>\""
                    .into(),
            ));
        }
        if !self.email.reply_to.is_empty()
            && self
                .email
                .reply_to
                .parse::<lettre::message::Mailbox>()
                .is_err()
        {
            return Err(SettingsError(
                "email.reply_to: must be an address such as \"Coordinators <team@example.org>\", or empty"
                    .into(),
            ));
        }
        crate::crypto::DataCipher::new(&self.crypto.data_key, &self.crypto.previous_keys)
            .map_err(SettingsError)?;
        if environment == AppEnvironment::Production {
            let secret = &self.auth.jwt_secret;
            if secret == DEV_JWT_SECRET || secret.len() < MIN_PRODUCTION_SECRET_LEN {
                return Err(SettingsError(format!(
                    "auth.jwt_secret: in production set APP_AUTH__JWT_SECRET to a random value of at least {MIN_PRODUCTION_SECRET_LEN} characters"
                )));
            }
        }
        if environment == AppEnvironment::Production && self.crypto.data_key == DEV_DATA_KEY {
            return Err(SettingsError(
                "crypto.data_key: in production set APP_CRYPTO__DATA_KEY to 32 random bytes in base64 (openssl rand -base64 32)".into(),
            ));
        }
        Ok(())
    }
}

/// Flattens the config crate's error into one line; it already names the key for type errors.
fn describe(error: config::ConfigError) -> SettingsError {
    SettingsError(error.to_string().replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_config() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    fn load_with(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        Settings::load_from(&repo_config(), AppEnvironment::Local, &vars)
    }

    #[test]
    fn defaults_in_code_match_config_default_toml() {
        let text = std::fs::read_to_string(repo_config().join("default.toml"))
            .unwrap_or_else(|e| panic!("read default.toml: {e}"));
        let from_file: Settings =
            toml::from_str(&text).unwrap_or_else(|e| panic!("parse default.toml: {e}"));
        assert_eq!(from_file, Settings::default());
    }

    #[test]
    fn config_default_toml_documents_every_key() {
        let text = std::fs::read_to_string(repo_config().join("default.toml"))
            .unwrap_or_else(|e| panic!("read default.toml: {e}"));
        let file: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let code = toml::Table::try_from(Settings::default()).unwrap_or_else(|e| panic!("{e}"));
        for (section, keys) in &code {
            let Some(file_keys) = file.get(section).and_then(|v| v.as_table()) else {
                panic!("default.toml lacks the [{section}] section");
            };
            let keys = keys
                .as_table()
                .unwrap_or_else(|| panic!("{section} is a table"));
            for key in keys.keys() {
                assert!(
                    file_keys.contains_key(key),
                    "default.toml lacks {section}.{key}"
                );
            }
        }
    }

    #[test]
    fn environment_variables_override_files() {
        let settings = load_with(&[
            ("APP_SERVER__PORT", "9999"),
            ("APP_DATABASE__URL", "postgres://u@db/coproduce"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.server.port, 9999);
        assert_eq!(settings.database.url, "postgres://u@db/coproduce");
    }

    #[test]
    fn unknown_key_is_refused_naming_it() {
        let error = load_with(&[("APP_SERVER__PROT", "1")]).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("prot"), "{message}");
    }

    #[test]
    fn bad_value_is_refused_naming_the_key() {
        let error = load_with(&[("APP_SERVER__PORT", "eighty")]).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("server.port"), "{message}");
    }

    #[test]
    fn negative_extra_seat_penalty_is_refused_naming_the_key() {
        let error = load_with(&[("APP_MATCHING__EXTRA_SEAT_PENALTY", "-5")]).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("matching.extra_seat_penalty"), "{message}");
    }

    #[test]
    fn trusted_proxies_come_from_a_comma_separated_variable() {
        let settings = load_with(&[("APP_SERVER__TRUSTED_PROXIES", "10.0.0.0/8, fd00::1")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.server.trusted_proxies, ["10.0.0.0/8", "fd00::1"]);
    }

    #[test]
    fn previous_data_keys_come_from_a_comma_separated_variable() {
        // Production takes its secrets from the environment, key rotation included.
        let keys = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
        let settings =
            load_with(&[("APP_CRYPTO__PREVIOUS_KEYS", keys)]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.crypto.previous_keys.len(), 2);
        assert_eq!(
            settings.crypto.previous_keys[1],
            "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
        );
    }

    #[test]
    fn trusted_proxy_that_is_not_an_address_is_refused_naming_the_key_and_entry() {
        let error = load_with(&[("APP_SERVER__TRUSTED_PROXIES", "10.0.0.0/8,lb.internal")]).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("server.trusted_proxies"), "{message}");
        assert!(message.contains("lb.internal"), "{message}");
    }

    #[test]
    fn concurrent_sends_outside_one_to_eight_is_refused_naming_the_key() {
        for value in ["0", "9"] {
            let error = load_with(&[("APP_EMAIL__CONCURRENT_SENDS", value)]).err();
            let message = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains("email.concurrent_sends"), "{message}");
        }
        assert!(load_with(&[("APP_EMAIL__CONCURRENT_SENDS", "8")]).is_ok());
    }

    #[test]
    fn reminder_and_retention_settings_out_of_range_are_refused_naming_the_key() {
        for (key, value, named) in [
            (
                "APP_CLAIMS__REMIND_AFTER_DAYS",
                "0",
                "claims.remind_after_days",
            ),
            ("APP_CLAIMS__REMIND_HOUR", "24", "claims.remind_hour"),
            (
                "APP_ADJUSTMENTS__REMIND_DAYS_BEFORE",
                "0",
                "adjustments.remind_days_before",
            ),
            (
                "APP_ADJUSTMENTS__REMIND_HOUR",
                "24",
                "adjustments.remind_hour",
            ),
            ("APP_ROUNDS__REMINDER_HOUR", "24", "rounds.reminder_hour"),
            (
                "APP_WHAT_CHANGED__REMIND_AFTER_DAYS",
                "0",
                "what_changed.remind_after_days",
            ),
            (
                "APP_WHAT_CHANGED__REMIND_HOUR",
                "24",
                "what_changed.remind_hour",
            ),
            (
                "APP_BOOKINGS__REMIND_AFTER_DAYS",
                "0",
                "bookings.remind_after_days",
            ),
            ("APP_BOOKINGS__REMIND_HOUR", "24", "bookings.remind_hour"),
            (
                "APP_BOOKINGS__SESSION_REMINDER_HOURS",
                "337",
                "bookings.session_reminder_hours",
            ),
            (
                "APP_BOOKINGS__SHORT_REMIND_DAYS_BEFORE",
                "61",
                "bookings.short_remind_days_before",
            ),
            (
                "APP_ROUNDS__DRAFT_REMINDER_DAYS_BEFORE",
                "0",
                "rounds.draft_reminder_days_before",
            ),
            (
                "APP_RETENTION__SETTLED_CLAIM_YEARS",
                "5",
                "retention.settled_claim_years",
            ),
            (
                "APP_RETENTION__AUDIT_LOG_YEARS",
                "0",
                "retention.audit_log_years",
            ),
        ] {
            let error = load_with(&[(key, value)]).err();
            let message = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(named), "{message}");
        }
    }

    #[test]
    fn digest_hour_past_23_is_refused_naming_the_key() {
        let error = load_with(&[("APP_EMAIL__DIGEST_HOUR", "24")]).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("email.digest_hour"), "{message}");
        assert!(load_with(&[("APP_EMAIL__DIGEST_HOUR", "23")]).is_ok());
    }

    #[test]
    fn smtp_timeout_of_zero_is_refused_naming_the_key() {
        let error = load_with(&[("APP_EMAIL__SMTP_TIMEOUT_SECS", "0")]).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("email.smtp_timeout_secs"), "{message}");
        assert!(load_with(&[("APP_EMAIL__SMTP_TIMEOUT_SECS", "1")]).is_ok());
    }

    #[test]
    fn database_url_with_another_scheme_is_refused_naming_accepted_forms() {
        let error = load_with(&[("APP_DATABASE__URL", "mysql://root@localhost/db")]).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("database.url"), "{message}");
        assert!(message.contains("sqlite://"), "{message}");
        assert!(message.contains("postgres://"), "{message}");
    }

    #[test]
    fn production_warns_when_replies_would_reach_nobody() {
        let mut email = EmailSettings::default();
        assert!(
            email
                .unanswered_replies(AppEnvironment::Production)
                .is_some()
        );
        assert!(email.unanswered_replies(AppEnvironment::Local).is_none());
        email.reply_to = "Coordinators <team@collective.example>".into();
        assert!(
            email
                .unanswered_replies(AppEnvironment::Production)
                .is_none()
        );
    }

    #[test]
    fn production_refuses_the_development_secret() {
        let vars = HashMap::new();
        let error = Settings::load_from(&repo_config(), AppEnvironment::Production, &vars).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("auth.jwt_secret"), "{message}");
    }

    #[test]
    fn production_refuses_the_development_data_key() {
        let vars = HashMap::from([(
            "APP_AUTH__JWT_SECRET".to_string(),
            "k3y-that-is-long-enough-for-production-use".to_string(),
        )]);
        let error = Settings::load_from(&repo_config(), AppEnvironment::Production, &vars).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("crypto.data_key"), "{message}");
    }

    #[test]
    fn data_key_that_is_not_32_bytes_is_refused() {
        let error = load_with(&[("APP_CRYPTO__DATA_KEY", "c2hvcnQ=")]).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("crypto.data_key"), "{message}");
    }

    #[test]
    fn production_accepts_a_long_random_secret() {
        let vars = HashMap::from([
            (
                "APP_AUTH__JWT_SECRET".to_string(),
                "k3y-that-is-long-enough-for-production-use".to_string(),
            ),
            (
                "APP_CRYPTO__DATA_KEY".to_string(),
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_string(),
            ),
        ]);
        let settings = Settings::load_from(&repo_config(), AppEnvironment::Production, &vars)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.server.host, "0.0.0.0");
    }

    #[test]
    fn links_join_the_public_url_and_the_path_with_one_slash() {
        for public_url in ["https://coproduce.example", "https://coproduce.example/"] {
            let server = ServerSettings {
                public_url: public_url.into(),
                ..ServerSettings::default()
            };
            assert_eq!(
                server.link("/applications/1"),
                "https://coproduce.example/applications/1"
            );
        }
    }

    #[test]
    fn unknown_app_env_is_refused() {
        let error = "staging".parse::<AppEnvironment>().err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("APP_ENV"), "{message}");
    }

    #[test]
    fn debug_output_hides_the_jwt_secret() {
        let shown = format!("{:?}", Settings::default());
        assert!(!shown.contains(DEV_JWT_SECRET));
        assert!(!shown.contains(DEV_DATA_KEY));
    }
}
