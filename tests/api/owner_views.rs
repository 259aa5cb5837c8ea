//! The owner's view stored ready to send (the read model behind an owner's
//! `GET /applications/{id}`): always what the tables say, whoever changed them and however.

use coproduce::db::schema::application_owner_views as views;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::recruitment::{create_round, reviewer_on_panel, score, submitted};

fn path_of(application: &Value) -> String {
    format!(
        "/api/v1/applications/{}",
        application["id"].as_str().unwrap()
    )
}

async fn stored_view(app: &TestApp, application: &Value) -> Option<String> {
    let id = application["id"].as_str().unwrap().to_string();
    app.state
        .db
        .read(move |conn| {
            Ok(views::table
                .find(id)
                .select(views::body)
                .first::<String>(conn)
                .optional()?)
        })
        .await
        .unwrap()
}

async fn write_sql(app: &TestApp, sql: &'static str) {
    app.state
        .db
        .write(move |conn| Ok(diesel::sql_query(sql).execute(conn)?))
        .await
        .unwrap();
}

async fn body_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

both_backends! {
    async fn the_owners_writes_store_the_view_their_answer_shows(app) {
        let coordinator = app.signed_in(coproduce::domain::role::Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let stored = stored_view(&app, &application).await.expect("the submit stored the view");
        assert_eq!(serde_json::from_str::<Value>(&stored).unwrap(), application);
        let read = body_of(app.get_as(&applicant, &path_of(&application)).send().await.unwrap()).await;
        assert_eq!(read, stored);
    }

    async fn the_stored_view_is_byte_for_byte_the_view_built_from_the_tables(app) {
        let coordinator = app.signed_in(coproduce::domain::role::Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let from_store = body_of(app.get_as(&applicant, &path_of(&application)).send().await.unwrap()).await;
        write_sql(&app, "DELETE FROM application_owner_views").await;
        let built = body_of(app.get_as(&applicant, &path_of(&application)).send().await.unwrap()).await;
        assert_eq!(from_store, built);
    }

    async fn going_into_review_shows_in_the_owners_view_at_once(app) {
        let coordinator = app.signed_in(coproduce::domain::role::Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        assert_eq!(score(&app, &reviewer, &application, &round, 3).await.status(), 201);
        let seen: Value = app.get_as(&applicant, &path_of(&application)).send().await.unwrap().json().await.unwrap();
        assert_eq!(seen["status"], "in_review");
    }

    async fn renaming_the_round_shows_in_its_applicants_views_at_once(app) {
        let coordinator = app.signed_in(coproduce::domain::role::Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let renamed = app
            .patch_as(&coordinator, &format!("/api/v1/rounds/{}", round["id"].as_str().unwrap()))
            .json(&json!({"title": "Peer researchers 2027 (second intake)"}))
            .send()
            .await
            .unwrap();
        assert_eq!(renamed.status(), 200);
        let seen: Value = app.get_as(&applicant, &path_of(&application)).send().await.unwrap().json().await.unwrap();
        assert_eq!(seen["round_title"], "Peer researchers 2027 (second intake)");
    }

    async fn changes_made_straight_in_the_database_remove_the_stored_view(app) {
        let coordinator = app.signed_in(coproduce::domain::role::Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        write_sql(&app, "UPDATE applications SET feedback = 'Written by hand'").await;
        assert_eq!(stored_view(&app, &application).await, None);
        let seen: Value = app.get_as(&applicant, &path_of(&application)).send().await.unwrap().json().await.unwrap();
        assert_eq!(seen["feedback"], "Written by hand");

        let (applicant, application) = submitted(&app, &round).await;
        write_sql(&app, "UPDATE application_answers SET text = 'Edited by hand'").await;
        assert_eq!(stored_view(&app, &application).await, None);
        let seen: Value = app.get_as(&applicant, &path_of(&application)).send().await.unwrap().json().await.unwrap();
        assert_eq!(seen["answers"][0]["text"], "Edited by hand");
    }

    async fn a_view_stored_for_another_round_title_is_not_served(app) {
        let coordinator = app.signed_in(coproduce::domain::role::Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        write_sql(&app, "UPDATE application_owner_views SET body = '{\"stale\":true}', round_title = 'An old title'").await;
        let seen: Value = app.get_as(&applicant, &path_of(&application)).send().await.unwrap().json().await.unwrap();
        assert_eq!(seen, application);
    }

    async fn the_job_stores_the_view_of_applications_that_have_none(app) {
        let coordinator = app.signed_in(coproduce::domain::role::Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let (_, other) = submitted(&app, &round).await;
        write_sql(&app, "DELETE FROM application_owner_views").await;
        assert_eq!(coproduce::jobs::store_missing_owner_views(&app.state).await.unwrap(), 2);
        let stored = stored_view(&app, &application).await.expect("stored by the job");
        assert!(stored_view(&app, &other).await.is_some());
        let read = body_of(app.get_as(&applicant, &path_of(&application)).send().await.unwrap()).await;
        assert_eq!(read, stored);
        assert_eq!(coproduce::jobs::store_missing_owner_views(&app.state).await.unwrap(), 0, "nothing left to store");
    }

    async fn the_job_stores_again_a_view_the_read_would_not_serve(app) {
        let coordinator = app.signed_in(coproduce::domain::role::Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        write_sql(&app, "UPDATE application_owner_views SET round_title = 'An old title'").await;
        assert_eq!(coproduce::jobs::store_missing_owner_views(&app.state).await.unwrap(), 1, "an old round title");
        let stored = stored_view(&app, &application).await.unwrap();
        let read = body_of(app.get_as(&applicant, &path_of(&application)).send().await.unwrap()).await;
        assert_eq!(read, stored);
        write_sql(&app, "UPDATE application_owner_views SET format = 0").await;
        assert_eq!(coproduce::jobs::store_missing_owner_views(&app.state).await.unwrap(), 1, "an older format");
    }

    async fn nobody_but_the_owner_is_answered_from_the_stored_view(app) {
        let coordinator = app.signed_in(coproduce::domain::role::Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (_, application) = submitted(&app, &round).await;
        let stranger = app.signed_in(coproduce::domain::role::Role::Applicant).await;
        assert_eq!(app.get_as(&stranger, &path_of(&application)).send().await.unwrap().status(), 404);
        let seen: Value = app.get_as(&coordinator, &path_of(&application)).send().await.unwrap().json().await.unwrap();
        assert!(seen["applicant"]["email"].is_string(), "the coordinator's own view: {seen}");
    }
}
