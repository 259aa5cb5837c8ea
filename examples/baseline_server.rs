//! The yardstick for scripts/load_drill.py: the least an actix-web + diesel service can do per
//! request. `GET /items/{id}` reads one row by primary key and answers it as JSON;
//! `POST /items` inserts one row in a write transaction. No auth, no middleware, no logging.
//! `POST /items/{id}/submit` writes the rows our submit writes, in plain diesel: it reads the item,
//! moves it from `draft` to `submitted` (guarded UPDATE), adds a history row and an outbox row of an
//! email's size (text and HTML), and stores the item's JSON view (upsert), in one transaction; the
//! tables have the indexes ours have. It does not authenticate, validate, render or log: what our
//! submit adds on top of the same writes is what the ratio against it measures.
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
//! At start it creates its tables and, when empty, `BASELINE_SEED` drafts with ids `item-0…`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

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
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    baseline_history (id) {
        id -> Text,
        item_id -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor_id -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    baseline_outbox (id) {
        id -> Text,
        message_id -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    baseline_views (item_id) {
        item_id -> Text,
        owner_id -> Text,
        body -> Text,
    }
}

#[derive(Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = baseline_items)]
struct Item {
    id: String,
    owner_id: String,
    title: String,
    body: String,
    status: String,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
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
            let now = chrono::Utc::now().naive_utc();
            let item = Item {
                id: uuid::Uuid::now_v7().to_string(),
                owner_id: "baseline".into(),
                title,
                body,
                status: "draft".into(),
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(baseline_items::table)
                .values(&item)
                .execute(conn)?;
            Ok(item.id)
        })
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": id })))
}

#[post("/items/{id}/submit")]
async fn submit_item(
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let view = db
        .write(move |conn| {
            let mut item = baseline_items::table
                .find(id.as_str())
                .select(Item::as_select())
                .first(conn)
                .optional()?
                .ok_or(AppError::NotFound)?;
            let now = chrono::Utc::now().naive_utc();
            let changed = diesel::update(
                baseline_items::table
                    .find(id.as_str())
                    .filter(baseline_items::status.eq("draft")),
            )
            .set((
                baseline_items::status.eq("submitted"),
                baseline_items::updated_at.eq(now),
            ))
            .execute(conn)?;
            if changed != 1 {
                return Err(AppError::conflict("invalid_transition", "not a draft"));
            }
            diesel::insert_into(baseline_history::table)
                .values((
                    baseline_history::id.eq(uuid::Uuid::now_v7().to_string()),
                    baseline_history::item_id.eq(&item.id),
                    baseline_history::from_status.eq(Some("draft")),
                    baseline_history::to_status.eq("submitted"),
                    baseline_history::actor_id.eq(&item.owner_id),
                    baseline_history::at.eq(now),
                ))
                .execute(conn)?;
            let email_id = uuid::Uuid::now_v7().to_string();
            diesel::insert_into(baseline_outbox::table)
                .values((
                    baseline_outbox::message_id.eq(format!("<{email_id}@baseline.example>")),
                    baseline_outbox::id.eq(email_id),
                    baseline_outbox::recipient.eq(format!("{}@baseline.example", item.owner_id)),
                    baseline_outbox::subject
                        .eq(format!("We have your application: {}", item.title)),
                    baseline_outbox::body_text.eq(EMAIL_TEXT.replace("{item}", &item.id)),
                    baseline_outbox::body_html.eq(Some(EMAIL_HTML.replace("{item}", &item.id))),
                    baseline_outbox::status.eq("pending"),
                    baseline_outbox::attempts.eq(0),
                    baseline_outbox::next_attempt_at.eq(now),
                    baseline_outbox::created_at.eq(now),
                ))
                .execute(conn)?;
            item.status = "submitted".into();
            item.updated_at = now;
            let view = serde_json::to_string(&item).map_err(anyhow::Error::from)?;
            let row = (
                baseline_views::item_id.eq(&item.id),
                baseline_views::owner_id.eq(&item.owner_id),
                baseline_views::body.eq(&view),
            );
            coproduce::per_backend!(conn, |c| diesel::insert_into(baseline_views::table)
                .values(row)
                .on_conflict(baseline_views::item_id)
                .do_update()
                .set(baseline_views::body.eq(&view))
                .execute(c))?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(view))
}

/// About the size of our rendered "application received" email: 0.9 KB of text, 2 KB of HTML.
static EMAIL_TEXT: LazyLock<String> = LazyLock::new(|| {
    "Thank you for applying. We have your application ({item}) and will answer you by the date \
     in your account. Nothing else is needed from you now.\n\n"
        .repeat(6)
});
static EMAIL_HTML: LazyLock<String> = LazyLock::new(|| {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"></head><body>{}</body></html>",
        "<p style=\"font-family: sans-serif; font-size: 18px\">Thank you for applying. We have your \
         application ({item}) and will answer you by the date in your account.</p>"
            .repeat(11)
    )
});

fn prepare(conn: &mut DbConn, seed: usize) -> anyhow::Result<()> {
    let timestamp = match conn {
        DbConn::Sqlite(_) => "TIMESTAMP",
        DbConn::Postgres(_) => "TIMESTAMP WITHOUT TIME ZONE",
    };
    // The indexes our applications, application_transitions and outbox tables have.
    conn.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS baseline_items (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, \
         title TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL, \
         created_at {timestamp} NOT NULL, updated_at {timestamp} NOT NULL); \
         CREATE INDEX IF NOT EXISTS baseline_items_status ON baseline_items (status, updated_at); \
         CREATE TABLE IF NOT EXISTS baseline_history (id TEXT PRIMARY KEY, \
         item_id TEXT NOT NULL REFERENCES baseline_items(id), from_status TEXT, \
         to_status TEXT NOT NULL, actor_id TEXT NOT NULL, at {timestamp} NOT NULL); \
         CREATE INDEX IF NOT EXISTS baseline_history_item ON baseline_history (item_id, at); \
         CREATE TABLE IF NOT EXISTS baseline_outbox (id TEXT PRIMARY KEY, \
         message_id TEXT NOT NULL UNIQUE, recipient TEXT NOT NULL, subject TEXT NOT NULL, \
         body_text TEXT NOT NULL, body_html TEXT, status TEXT NOT NULL, attempts INTEGER NOT NULL, \
         next_attempt_at {timestamp} NOT NULL, created_at {timestamp} NOT NULL); \
         CREATE INDEX IF NOT EXISTS baseline_outbox_due ON baseline_outbox (status, next_attempt_at); \
         CREATE TABLE IF NOT EXISTS baseline_views (item_id TEXT PRIMARY KEY \
         REFERENCES baseline_items(id), owner_id TEXT NOT NULL, body TEXT NOT NULL);"
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
            status: "draft".into(),
            created_at: now,
            updated_at: now,
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
            .service(submit_item)
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}
