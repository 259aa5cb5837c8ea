//! What every handler can reach, shared by all workers.

use std::sync::Arc;

use crate::auth::client_ip::TrustedProxies;
use crate::auth::jwt::JwtKeys;
use crate::auth::rate_limit::SignInLimits;
use crate::auth::verified_tokens::VerifiedTokens;
use crate::crypto::DataCipher;
use crate::db::Database;
use crate::domain::catalogue::Catalogue;
use crate::email::outbox::Worker;
use crate::email::{Mailer, Outbox};
use crate::metrics::Metrics;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
    pub jwt: Arc<JwtKeys>,
    pub verified_tokens: Arc<VerifiedTokens>,
    pub metrics: Arc<Metrics>,
    pub outbox: Arc<Outbox>,
    pub mailer: Mailer,
    pub sign_in_limits: Arc<SignInLimits>,
    pub trusted_proxies: Arc<TrustedProxies>,
    pub catalogue: Arc<Catalogue>,
    pub cipher: Arc<DataCipher>,
    /// Erasures of this process take turns here, before taking a database connection: each
    /// waits for the one before (across replicas too, on PostgreSQL), and a burst of them
    /// waiting inside the pool would leave no connection for anyone else.
    pub erasure_turn: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    pub fn new(db: Database, settings: Settings) -> anyhow::Result<Self> {
        let cipher = Arc::new(
            DataCipher::new(&settings.crypto.data_key, &settings.crypto.previous_keys)
                .map_err(anyhow::Error::msg)?,
        );
        Ok(Self {
            db,
            jwt: Arc::new(JwtKeys::new(&settings.auth)),
            verified_tokens: Arc::default(),
            metrics: Arc::new(Metrics::new()?),
            outbox: Arc::new(Outbox::new(&settings.email, cipher.clone())?),
            mailer: Mailer::from_settings(&settings.email)?,
            sign_in_limits: Arc::new(SignInLimits::new(&settings.rate_limit)),
            trusted_proxies: Arc::new(
                TrustedProxies::parse(&settings.server.trusted_proxies)
                    .map_err(anyhow::Error::msg)?,
            ),
            catalogue: Arc::new(
                Catalogue::load(&settings.catalogue.path).map_err(anyhow::Error::msg)?,
            ),
            cipher,
            erasure_turn: Arc::default(),
            settings: Arc::new(settings),
        })
    }

    /// The outbox worker over this state's database and mailer.
    pub fn outbox_worker(&self) -> Worker {
        Worker {
            db: self.db.clone(),
            mailer: self.mailer.clone(),
            outbox: self.outbox.clone(),
            settings: self.settings.email.clone(),
        }
    }
}
