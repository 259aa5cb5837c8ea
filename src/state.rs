//! What every handler can reach, shared by all workers.

use std::sync::Arc;

use crate::auth::jwt::JwtKeys;
use crate::db::Database;
use crate::metrics::Metrics;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
    pub jwt: Arc<JwtKeys>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(db: Database, settings: Settings) -> anyhow::Result<Self> {
        Ok(Self {
            db,
            jwt: Arc::new(JwtKeys::new(&settings.auth)),
            metrics: Arc::new(Metrics::new()?),
            settings: Arc::new(settings),
        })
    }
}
