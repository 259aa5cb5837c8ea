//! The person's own data: catalogue, profile, access passport, equal-opportunities answers.

use coproduce::domain::role::Role;
use diesel::RunQueryDsl;
use diesel::sql_types::{Binary, Text};
use serde_json::{Value, json};

use crate::helpers::*;

pub fn profile_body() -> Value {
    json!({
        "contact": {"preferred_channel": "email", "phone": null, "best_times": "Weekday mornings", "formats": ["standard"]},
        "skills": [{"code": "facilitation", "level": 3}, {"code": "peer_research", "level": 2}],
        "interests": ["housing", "mental_health"],
        "lived_experience": ["homelessness", "uses_mental_health_services"],
        "availability": {"weekly": [{"day": "mon", "from": "09:30", "to": "13:00"}], "hours_per_month": 12, "remote": true, "in_person": false, "region": "london"},
        "payment": {"method": "bank_transfer", "earnings_limit_pence": 100000, "benefits_advice_wanted": true}
    })
}

pub fn passport_body() -> Value {
    json!({
        "needs": [{"code": "bsl_interpreter", "detail": "Please book a registered interpreter"}, {"code": "step_free_access", "detail": null}],
        "good_day_bad_day": "On a bad day I need more breaks",
        "access_to_work": true,
        "share_with_project_teams": true,
        "review_by": "2027-06-01"
    })
}

pub async fn put(app: &TestApp, user: &TestUser, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(&user.token)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[derive(diesel::QueryableByName)]
struct Stored {
    #[diesel(sql_type = Binary)]
    bytes: Vec<u8>,
}

pub async fn stored_bytes(app: &TestApp, sql: &'static str, user_id: &str) -> Vec<u8> {
    let user_id = user_id.to_string();
    app.state
        .db
        .read(move |conn| {
            Ok(diesel::sql_query(sql)
                .bind::<Text, _>(&user_id)
                .get_result::<Stored>(conn)?
                .bytes)
        })
        .await
        .unwrap()
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

both_backends! {
    async fn catalogue_is_public_and_lists_every_catalogue(app) {
        let response = app.get("/api/v1/catalogue").await;
        assert_eq!(response.status(), 200);
        let catalogue: Value = response.json().await.unwrap();
        for list in ["access_needs", "features", "skills", "skill_levels", "interests", "lived_experience", "payment_methods", "eo"] {
            assert!(catalogue[list].as_array().is_some_and(|items| !items.is_empty()), "{list}");
        }
        let bsl = catalogue["access_needs"].as_array().unwrap().iter().find(|n| n["code"] == "bsl_interpreter").unwrap();
        assert!(bsl["easy_read"].as_str().is_some_and(|s| !s.is_empty()));
    }

    async fn profile_is_recorded_once_and_read_back(app) {
        let user = app.signed_in(Role::Applicant).await;
        assert_eq!(app.get_as(&user, "/api/v1/me/profile").send().await.unwrap().status(), 404);
        let saved = put(&app, &user, "/api/v1/me/profile", &profile_body()).await;
        assert_eq!(saved.status(), 200);
        let read: Value = app.get_as(&user, "/api/v1/me/profile").send().await.unwrap().json().await.unwrap();
        assert_eq!(read, profile_body());
    }

    async fn easy_read_chosen_in_the_profile_is_how_email_is_written(app) {
        let user = app.signed_in(Role::Applicant).await;
        let mut profile = profile_body();
        profile["contact"]["formats"] = json!(["large_print", "easy_read"]);
        assert_eq!(put(&app, &user, "/api/v1/me/profile", &profile).await.status(), 200);
        let preferences: Value = app.get_as(&user, "/api/v1/me/notification-preferences").send().await.unwrap().json().await.unwrap();
        assert_eq!(preferences["format"], "easy_read");
        app.post_json("/api/v1/auth/magic-link", &json!({"email": user.email})).send().await.unwrap();
        app.drain_outbox().await;
        let email = app.emails_to(&user.email).pop().unwrap();
        assert!(email.text.contains("The link works 1 time."), "easy read: {}", email.text);
    }

    async fn a_later_email_choice_stays_until_the_profile_formats_change(app) {
        let user = app.signed_in(Role::Applicant).await;
        let mut profile = profile_body();
        profile["contact"]["formats"] = json!(["easy_read"]);
        assert_eq!(put(&app, &user, "/api/v1/me/profile", &profile).await.status(), 200);
        let chosen = put(&app, &user, "/api/v1/me/notification-preferences", &json!({"format": "standard", "digest": false})).await;
        assert_eq!(chosen.status(), 200);
        profile["contact"]["best_times"] = json!("Afternoons");
        assert_eq!(put(&app, &user, "/api/v1/me/profile", &profile).await.status(), 200);
        let format = || {
            let request = app.get_as(&user, "/api/v1/me/notification-preferences");
            async move { request.send().await.unwrap().json::<Value>().await.unwrap()["format"].clone() }
        };
        assert_eq!(format().await, "standard", "the same formats saved again change nothing");
        profile["contact"]["formats"] = json!(["large_print", "easy_read"]);
        assert_eq!(put(&app, &user, "/api/v1/me/profile", &profile).await.status(), 200);
        assert_eq!(format().await, "standard", "formats that ask for the same email format change nothing");
        profile["contact"]["formats"] = json!(["plain_text"]);
        assert_eq!(put(&app, &user, "/api/v1/me/profile", &profile).await.status(), 200);
        assert_eq!(format().await, "plain_text");
    }

    async fn ticking_standard_in_the_profile_never_takes_easy_read_away(app) {
        let user = app.signed_in(Role::Applicant).await;
        let chosen = put(&app, &user, "/api/v1/me/notification-preferences", &json!({"format": "easy_read", "digest": false})).await;
        assert_eq!(chosen.status(), 200);
        assert_eq!(put(&app, &user, "/api/v1/me/profile", &profile_body()).await.status(), 200);
        let preferences: Value = app.get_as(&user, "/api/v1/me/notification-preferences").send().await.unwrap().json().await.unwrap();
        assert_eq!(preferences["format"], "easy_read");
    }

    async fn profile_lists_every_bad_field_with_its_path(app) {
        let user = app.signed_in(Role::Applicant).await;
        let mut body = profile_body();
        body["skills"][0]["code"] = json!("juggling");
        body["skills"][1]["level"] = json!(7);
        body["contact"]["preferred_channel"] = json!("phone");
        body["availability"]["weekly"][0]["to"] = json!("08:00");
        body["payment"]["method"] = json!("cash");
        let response = put(&app, &user, "/api/v1/me/profile", &body).await;
        assert_eq!(response.status(), 422);
        let problem = problem(response).await;
        assert_eq!(
            error_fields(&problem),
            ["contact.phone", "skills[0].code", "skills[1].level", "availability.weekly[0].to", "payment.method"]
        );
        assert!(problem["errors"][1]["message"].as_str().unwrap().contains("“juggling” is not a skill"));
    }

    async fn access_passport_is_recorded_and_read_back(app) {
        let user = app.signed_in(Role::Applicant).await;
        assert_eq!(put(&app, &user, "/api/v1/me/access-passport", &passport_body()).await.status(), 200);
        let read: Value = app.get_as(&user, "/api/v1/me/access-passport").send().await.unwrap().json().await.unwrap();
        assert_eq!(read, passport_body());
        let mut bad = passport_body();
        bad["needs"][1]["code"] = json!("telepathy");
        let response = put(&app, &user, "/api/v1/me/access-passport", &bad).await;
        assert_eq!(error_fields(&problem(response).await), ["needs[1].code"]);
    }

    async fn equal_opportunities_answers_are_optional_and_checked(app) {
        let user = app.signed_in(Role::Applicant).await;
        let empty: Value = app.get_as(&user, "/api/v1/me/equal-opportunities").send().await.unwrap().json().await.unwrap();
        assert_eq!(empty, json!({}));
        let answers = json!({"age_band": "prefer_not_to_say", "disability": "prefer_not_to_say"});
        assert_eq!(put(&app, &user, "/api/v1/me/equal-opportunities", &answers).await.status(), 200);
        let read: Value = app.get_as(&user, "/api/v1/me/equal-opportunities").send().await.unwrap().json().await.unwrap();
        assert_eq!(read, answers);
        let response = put(&app, &user, "/api/v1/me/equal-opportunities", &json!({"shoe_size": "9"})).await;
        assert_eq!(error_fields(&problem(response).await), ["shoe_size"]);
    }

    async fn special_category_data_is_stored_as_ciphertext(app) {
        let user = app.signed_in(Role::Applicant).await;
        put(&app, &user, "/api/v1/me/profile", &profile_body()).await;
        put(&app, &user, "/api/v1/me/access-passport", &passport_body()).await;
        put(&app, &user, "/api/v1/me/equal-opportunities", &json!({"religion": "prefer_not_to_say"})).await;
        let lived = stored_bytes(&app, "SELECT lived_experience AS bytes FROM profiles WHERE user_id = $1", &user.id).await;
        let passport = stored_bytes(&app, "SELECT ciphertext AS bytes FROM access_passports WHERE user_id = $1", &user.id).await;
        let eo = stored_bytes(&app, "SELECT ciphertext AS bytes FROM equal_opportunities WHERE user_id = $1", &user.id).await;
        assert!(!contains(&lived, "homelessness") && lived.len() > 40);
        assert!(!contains(&passport, "bsl_interpreter") && !contains(&passport, "interpreter"));
        assert!(!contains(&eo, "religion") && !contains(&eo, "prefer_not_to_say"));
    }

    async fn signing_out_of_the_api_leaves_personal_data_unreachable(app) {
        for path in ["/api/v1/me/profile", "/api/v1/me/access-passport", "/api/v1/me/equal-opportunities"] {
            assert_eq!(app.get(path).await.status(), 401, "{path}");
        }
    }
}

both_backends! {
    async fn people_are_reminded_to_check_their_access_passport_once_its_review_by_date_comes(app) {
        use crate::recruitment::noon_in;
        let person = app.signed_in(Role::Applicant).await;
        let in_days = |days: i64| (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).to_string();
        let mut body = passport_body();
        // Two days on: tomorrow in UTC can already be today in the UK, late on a summer evening.
        body["review_by"] = json!(in_days(2));
        assert_eq!(put(&app, &person, "/api/v1/me/access-passport", &body).await.status(), 200);
        let remind = |days: i64| coproduce::jobs::send_passport_review_reminders(&app.state, noon_in(days));
        assert_eq!(remind(1).await.unwrap(), 0, "not yet");
        assert_eq!(remind(2).await.unwrap(), 1);
        assert_eq!(remind(3).await.unwrap(), 0, "once for that date");
        app.drain_outbox().await;
        let reminder = app.emails_to(&person.email).pop().unwrap();
        assert_eq!(reminder.subject, "Time to check your access needs");
        assert!(reminder.text.contains("If nothing has changed, you do not need to do anything."), "{}", reminder.text);
        assert!(!reminder.text.contains("British Sign Language"), "the needs themselves stay out of email: {}", reminder.text);

        body["review_by"] = json!(in_days(6));
        assert_eq!(put(&app, &person, "/api/v1/me/access-passport", &body).await.status(), 200);
        assert_eq!(remind(5).await.unwrap(), 0);
        assert_eq!(remind(6).await.unwrap(), 1, "checked and given a new date, reminded again then");
    }

    async fn checking_a_passport_with_its_date_unchanged_brings_no_second_reminder(app) {
        use crate::recruitment::noon_in;
        let person = app.signed_in(Role::Applicant).await;
        let mut body = passport_body();
        body["review_by"] = json!((chrono::Utc::now().date_naive() + chrono::Duration::days(2)).to_string());
        assert_eq!(put(&app, &person, "/api/v1/me/access-passport", &body).await.status(), 200);
        let remind = |days: i64| coproduce::jobs::send_passport_review_reminders(&app.state, noon_in(days));
        assert_eq!(remind(2).await.unwrap(), 1);
        body["good_day_bad_day"] = json!("Mornings are easier for me");
        assert_eq!(put(&app, &person, "/api/v1/me/access-passport", &body).await.status(), 200);
        assert_eq!(remind(2).await.unwrap(), 0, "saved with the same date after the reminder");
    }

    async fn a_review_by_date_already_past_when_set_brings_no_reminder(app) {
        let person = app.signed_in(Role::Applicant).await;
        let mut body = passport_body();
        body["review_by"] = json!("2020-01-01");
        assert_eq!(put(&app, &person, "/api/v1/me/access-passport", &body).await.status(), 200);
        assert_eq!(coproduce::jobs::send_passport_review_reminders(&app.state, crate::recruitment::noon_in(0)).await.unwrap(), 0, "setting it is checking it");
    }

    async fn a_review_by_date_far_outside_our_time_is_refused_by_name(app) {
        let person = app.signed_in(Role::Applicant).await;
        let mut body = passport_body();
        body["review_by"] = json!("+10000-01-01");
        let response = put(&app, &person, "/api/v1/me/access-passport", &body).await;
        let problem = problem(response).await;
        assert_eq!(error_fields(&problem), ["review_by"], "{problem}");
    }

    async fn a_passport_without_a_review_by_date_is_never_reminded(app) {
        let person = app.signed_in(Role::Applicant).await;
        let mut body = passport_body();
        body["review_by"] = Value::Null;
        assert_eq!(put(&app, &person, "/api/v1/me/access-passport", &body).await.status(), 200);
        assert_eq!(coproduce::jobs::send_passport_review_reminders(&app.state, crate::recruitment::noon_in(400)).await.unwrap(), 0);
    }
}

both_backends! {
    async fn rotating_the_data_key_keeps_every_value_readable(app, |s| {
        s.crypto.data_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into();
    }) {
        let user = app.signed_in(Role::Applicant).await;
        put(&app, &user, "/api/v1/me/profile", &profile_body()).await;
        put(&app, &user, "/api/v1/me/access-passport", &passport_body()).await;
        put(&app, &user, "/api/v1/me/equal-opportunities", &json!({"religion": "prefer_not_to_say"})).await;
        // An unsent email: its sealed body moves to the new key too.
        let asked = app.post_json("/api/v1/auth/magic-link", &json!({"email": user.email})).send().await.unwrap();
        assert_eq!(asked.status(), 202);

        let mut rotated = (*app.state.settings).clone();
        rotated.crypto.previous_keys = vec![rotated.crypto.data_key.clone()];
        rotated.crypto.data_key = "HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=".into();
        let settings = rotated.clone();
        let count = tokio::task::spawn_blocking(move || coproduce::commands::reencrypt(&settings)).await.unwrap().unwrap();
        assert_eq!(count, 4);
        let settings = rotated.clone();
        let again = tokio::task::spawn_blocking(move || coproduce::commands::reencrypt(&settings)).await.unwrap().unwrap();
        assert_eq!(again, 0, "nothing left under the old key");

        // Only the new key from now on: everything still opens.
        let only_new = coproduce::crypto::DataCipher::new(&rotated.crypto.data_key, &[]).unwrap();
        let passport = stored_bytes(&app, "SELECT ciphertext AS bytes FROM access_passports WHERE user_id = $1", &user.id).await;
        let opened: Value = only_new.decrypt_json(&user.id, coproduce::crypto::Field::AccessPassport, &passport).unwrap();
        assert_eq!(opened, passport_body());
        let sealed = stored_bytes(&app, "SELECT sealed_body AS bytes FROM outbox WHERE user_id = $1", &user.id).await;
        let outbox_id = app.state.db.read(|conn| {
            use diesel::prelude::*;
            use coproduce::db::schema::outbox;
            Ok(outbox::table.select(outbox::id).first::<String>(conn)?)
        }).await.unwrap();
        let body: Value = only_new.decrypt_json(&outbox_id, coproduce::crypto::Field::EmailBody, &sealed).unwrap();
        assert!(body["text"].as_str().unwrap().contains("sign in"), "{body}");
    }

    async fn two_changes_to_one_account_at_once_both_land(app) {
        use diesel::connection::SimpleConnection;
        let user = app.signed_in(Role::Applicant).await;
        // The first change, half way: past its check that the account is still active.
        let mut first = app.transaction_of_its_own();
        assert!(coproduce::db::queries::users::hold_to_write_if_active(&mut first, &user.id).unwrap());
        let second = app.patch_as(&user, "/api/v1/me").json(&json!({"preferred_name": "Sam"})).send();
        tokio::pin!(second);
        let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut second).await;
        assert!(early.is_err(), "the second went ahead of the first");
        coproduce::db::queries::users::update_names(&mut first, &user.id, "Samira Example", None).unwrap();
        first.batch_execute("COMMIT").unwrap();
        let response = second.await.unwrap();
        assert_eq!(response.status(), 200, "refused instead of waiting its turn");
        let me: Value = response.json().await.unwrap();
        assert_eq!((me["full_name"].as_str(), me["preferred_name"].as_str()), (Some("Samira Example"), Some("Sam")));
    }

    async fn rotating_the_data_key_a_page_at_a_time_rewrites_every_value_once(app) {
        let mut people = Vec::new();
        for _ in 0..3 {
            let user = app.signed_in(Role::Applicant).await;
            put(&app, &user, "/api/v1/me/profile", &profile_body()).await;
            put(&app, &user, "/api/v1/me/access-passport", &passport_body()).await;
            put(&app, &user, "/api/v1/me/equal-opportunities", &json!({"religion": "prefer_not_to_say"})).await;
            people.push(user);
        }
        let mut rotated = (*app.state.settings).clone();
        rotated.crypto.previous_keys = vec![rotated.crypto.data_key.clone()];
        rotated.crypto.data_key = "HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=".into();
        let settings = rotated.clone();
        let count = tokio::task::spawn_blocking(move || coproduce::commands::reencrypt_in_pages(&settings, 2)).await.unwrap().unwrap();
        assert_eq!(count, 9, "three values for each of three people, in pages of two");
        let settings = rotated.clone();
        let again = tokio::task::spawn_blocking(move || coproduce::commands::reencrypt_in_pages(&settings, 2)).await.unwrap().unwrap();
        assert_eq!(again, 0, "nothing left under the old key");
        let only_new = coproduce::crypto::DataCipher::new(&rotated.crypto.data_key, &[]).unwrap();
        for user in &people {
            let passport = stored_bytes(&app, "SELECT ciphertext AS bytes FROM access_passports WHERE user_id = $1", &user.id).await;
            let opened: Value = only_new.decrypt_json(&user.id, coproduce::crypto::Field::AccessPassport, &passport).unwrap();
            assert_eq!(opened, passport_body());
        }
    }
}
