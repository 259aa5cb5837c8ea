//! Aggregate reports: equal-opportunities answers counted, small counts hidden.

use coproduce::domain::role::Role;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::matching::fitting_profile;
use crate::partners::coproducer;
use crate::people::put;
use crate::recruitment::{create_round, submitted};

const REPORT: &str = "/api/v1/reports/equal-opportunities";

async fn answering(app: &TestApp, gender: Option<&str>) -> TestUser {
    let person = coproducer(app, fitting_profile()).await;
    if let Some(gender) = gender {
        let answers = json!({"gender": gender, "age_band": "25_34"});
        assert_eq!(
            put(app, &person, "/api/v1/me/equal-opportunities", &answers)
                .await
                .status(),
            200
        );
    }
    person
}

async fn report(app: &TestApp, who: &TestUser, query: &str) -> reqwest::Response {
    app.get_as(who, &format!("{REPORT}{query}"))
        .send()
        .await
        .unwrap()
}

fn cells(report: &Value, question: &str) -> Vec<(String, String)> {
    let question = report["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["question"] == question)
        .unwrap();
    question["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["code"].as_str().unwrap().to_string(),
                a["people"].as_str().unwrap().to_string(),
            )
        })
        .chain(std::iter::once((
            "not_answered".to_string(),
            question["not_answered"].as_str().unwrap().to_string(),
        )))
        .collect()
}

both_backends! {
    async fn the_pool_is_counted_by_answer_and_counts_under_five_show_as_under_five(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        for _ in 0..7 {
            answering(&app, Some("woman")).await;
        }
        for _ in 0..2 {
            answering(&app, Some("man")).await;
        }
        for _ in 0..5 {
            answering(&app, None).await;
        }
        let response = report(&app, &coordinator, "").await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["population"], "pool");
        assert_eq!(body["people"], "15", "14, to the nearest 5");
        let gender = cells(&body, "gender");
        assert!(gender.contains(&("woman".into(), "5".into())), "7, to the nearest 5: {gender:?}");
        assert!(gender.contains(&("man".into(), "<5".into())), "{gender:?}");
        assert!(gender.contains(&("not_answered".into(), "5".into())), "{gender:?}");
        assert!(body["note"].as_str().unwrap().contains("nobody can be picked out"));
    }

    async fn a_report_on_fewer_than_five_people_gives_no_number(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        for _ in 0..3 {
            answering(&app, Some("woman")).await;
        }
        let body: Value = report(&app, &coordinator, "").await.json().await.unwrap();
        assert_eq!(body["people"], "<5");
        assert!(cells(&body, "gender").iter().all(|(_, n)| n == "<5"), "{body}");
    }

    async fn each_person_counted_sees_the_read_in_their_export(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = answering(&app, Some("woman")).await;
        assert_eq!(report(&app, &coordinator, "").await.status(), 200);
        let export: Value = app.get_as(&person, "/api/v1/me/export").send().await.unwrap().json().await.unwrap();
        let reads = export["who_read_your_sensitive_information"].as_array().unwrap();
        assert!(reads.iter().any(|r| r["what"] == "equal-opportunities answers" && r["through"].as_str().unwrap().contains("reports/equal-opportunities")), "{reads:?}");
    }

    async fn applicants_of_one_round_are_counted_apart(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let other = create_round(&app, &coordinator).await;
        for _ in 0..5 {
            let (applicant, _) = submitted(&app, &round).await;
            assert_eq!(put(&app, &applicant, "/api/v1/me/equal-opportunities", &json!({"gender": "non_binary"})).await.status(), 200);
        }
        submitted(&app, &other).await;
        let round_id = round["id"].as_str().unwrap();
        let body: Value = report(&app, &coordinator, &format!("?population=applicants&round_id={round_id}")).await.json().await.unwrap();
        assert_eq!(body["population"], "applicants");
        assert_eq!(body["people"], "5");
        assert!(cells(&body, "gender").contains(&("non_binary".into(), "hidden".into())), "everyone in the round: {body}");
        let all: Value = report(&app, &coordinator, "?population=applicants").await.json().await.unwrap();
        assert_eq!(all["people"], "5", "6, to the nearest 5");
    }

    async fn an_unknown_population_or_round_is_named(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let body = problem(report(&app, &coordinator, "?population=everyone").await).await;
        assert_eq!(error_fields(&body), ["population"]);
        let body = problem(report(&app, &coordinator, "?population=applicants&round_id=nope").await).await;
        assert_eq!(error_fields(&body), ["round_id"]);
        assert_eq!(body["errors"][0]["code"], "unknown_round");
        let body = problem(report(&app, &coordinator, "?round_id=nope").await).await;
        assert_eq!(body["errors"][0]["code"], "not_applicants");
    }
}
