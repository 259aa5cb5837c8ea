//! The yardstick for scripts/load_drill.py: the least an actix-web + diesel service can do per
//! request. `GET /items/{id}` reads one row by primary key and answers it as JSON;
//! `POST /items` inserts one row in a write transaction. No auth, no middleware, no logging.
//!
//! It uses the service's own pool and unit-of-work runners (`Database::read`/`write`:
//! r2d2 with the same size and timeouts, the same SQLite pragmas, `BEGIN IMMEDIATE` for writes,
//! the blocking thread pool), so the comparison measures what our request path adds on top.
//!
//! ```sh
//! BASELINE_DATABASE_URL=sqlite://data/baseline.db BASELINE_PORT=18081 BASELINE_SEED=1000 \
//!     cargo run --release --example baseline_server
//! ```
//! `BASELINE_DATABASE_URL` takes `sqlite://…` or `postgres://…`; `BASELINE_POOL_SIZE` (default: the
//! service's `database.pool_size`), `BASELINE_WORKERS` (default: one per core, as the service).
//! At start it creates its table and, when empty, `BASELINE_SEED` rows with ids `item-0…`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::{App, HttpResponse, HttpServer, get, post, web};
use coproduce::db::{Database, DbConn};
use coproduce::error::AppError;
use coproduce::settings::DatabaseSettings;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

diesel::table! {
    baseline_items (id) {
        id -> Text,
        owner_id -> Text,
        title -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

#[derive(Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = baseline_items)]
struct Item {
    id: String,
    owner_id: String,
    title: String,
    body: String,
    created_at: chrono::NaiveDateTime,
}

#[derive(Deserialize)]
struct NewItem {
    title: String,
    body: String,
}

#[get("/items/{id}")]
async fn get_item(
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let item = db
        .read(move |conn| {
            baseline_items::table
                .find(id.as_str())
                .select(Item::as_select())
                .first(conn)
                .optional()?
                .ok_or(AppError::NotFound)
        })
        .await?;
    Ok(HttpResponse::Ok().json(item))
}

#[post("/items")]
async fn create_item(
    db: web::Data<Database>,
    body: web::Json<NewItem>,
) -> Result<HttpResponse, AppError> {
    let NewItem { title, body } = body.into_inner();
    let id = db
        .write(move |conn| {
            let item = Item {
                id: uuid::Uuid::now_v7().to_string(),
                owner_id: "baseline".into(),
                title,
                body,
                created_at: chrono::Utc::now().naive_utc(),
            };
            diesel::insert_into(baseline_items::table)
                .values(&item)
                .execute(conn)?;
            Ok(item.id)
        })
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": id })))
}

fn prepare(conn: &mut DbConn, seed: usize) -> anyhow::Result<()> {
    let timestamp = match conn {
        DbConn::Sqlite(_) => "TIMESTAMP",
        DbConn::Postgres(_) => "TIMESTAMP WITHOUT TIME ZONE",
    };
    conn.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS baseline_items (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, \
         title TEXT NOT NULL, body TEXT NOT NULL, created_at {timestamp} NOT NULL)"
    ))?;
    let existing: i64 = baseline_items::table.count().get_result(conn)?;
    if existing > 0 {
        return Ok(());
    }
    let now = chrono::Utc::now().naive_utc();
    let rows: Vec<Item> = (0..seed)
        .map(|i| Item {
            id: format!("item-{i}"),
            owner_id: format!("owner-{i}"),
            title: format!("Item number {i}"),
            body: "A few sentences of text, about the size of an answer to one question. "
                .repeat(4),
            created_at: now,
        })
        .collect();
    for chunk in rows.chunks(500) {
        coproduce::per_backend!(conn, |c| diesel::insert_into(baseline_items::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let defaults = DatabaseSettings::default();
    let settings = DatabaseSettings {
        url: env_or(
            "BASELINE_DATABASE_URL",
            "sqlite://data/baseline.db".to_string(),
        ),
        pool_size: env_or("BASELINE_POOL_SIZE", defaults.pool_size),
        run_migrations: false,
        ..defaults
    };
    let seed: usize = env_or("BASELINE_SEED", 1000);
    let port: u16 = env_or("BASELINE_PORT", 18081);
    let workers: usize = env_or(
        "BASELINE_WORKERS",
        std::thread::available_parallelism().map_or(1, usize::from),
    );
    let db = tokio::task::spawn_blocking(move || -> anyhow::Result<Database> {
        let db = Database::connect(&settings)?;
        let mut conn = db.pool().get()?;
        prepare(&mut conn, seed)?;
        Ok(db)
    })
    .await??;
    println!(
        "baseline listening on http://127.0.0.1:{port} (database: {})",
        db.url().describe()
    );
    let data = web::Data::new(db);
    HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .service(get_item)
            .service(create_item)
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}
