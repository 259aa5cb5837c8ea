//! Access tokens that must be refused: each gets 401, and a good one gets 200.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use coproduce::auth::jwt::Claims;
use coproduce::auth::session_recheck;
use coproduce::auth::verified_tokens::{Known, RECHECK_AFTER, revocation_epoch};
use coproduce::domain::role::Role;
use diesel::RunQueryDsl;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::*;

/// Another replica's logout: the rows change and this process is not told.
async fn end_sessions_elsewhere(app: &TestApp) {
    app.state
        .db
        .write(|conn| {
            diesel::sql_query("UPDATE sessions SET revoked_at = created_at").execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

fn claims_for(app: &TestApp, user: &TestUser) -> Claims {
    let now = Utc::now().timestamp();
    let auth = &app.state.settings.auth;
    Claims {
        sub: user.id.clone(),
        roles: vec![Role::Applicant],
        sid: user.session_id.clone(),
        iat: now,
        nbf: now,
        exp: now + 600,
        iss: auth.issuer.clone(),
        aud: auth.audience.clone(),
        typ: "access".into(),
    }
}

fn sign_json(app: &TestApp, payload: &serde_json::Value) -> String {
    let key = EncodingKey::from_secret(app.state.settings.auth.jwt_secret.as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), payload, &key).unwrap()
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    app.client
        .get(app.url("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

both_backends! {
    async fn well_formed_token_is_accepted(app) {
        let user = app.signed_in(Role::Applicant).await;
        let token = app.state.jwt.sign(&claims_for(&app, &user)).unwrap();
        assert_eq!(me_status(&app, &token).await, 200);
    }

    async fn token_of_a_session_that_does_not_exist_is_refused(app) {
        let user = app.signed_in(Role::Applicant).await;
        let mut claims = claims_for(&app, &user);
        claims.sid = "no-such-session".into();
        assert_eq!(me_status(&app, &app.state.jwt.sign(&claims).unwrap()).await, 401);
    }

    async fn access_token_stops_working_at_logout(app) {
        let signed_in = app.register_and_sign_in("leaving@example.org").await;
        let token = signed_in["access_token"].as_str().unwrap();
        assert_eq!(me_status(&app, token).await, 200);
        let logout = app
            .post_json("/api/v1/auth/logout", &json!({"refresh_token": signed_in["refresh_token"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), 204);
        assert_eq!(me_status(&app, token).await, 401);
    }

    async fn access_token_stops_within_a_second_when_another_replica_ends_its_session(app) {
        let signed_in = app.register_and_sign_in("elsewhere@example.org").await;
        let token = signed_in["access_token"].as_str().unwrap().to_string();
        assert_eq!(me_status(&app, &token).await, 200);
        end_sessions_elsewhere(&app).await;
        tokio::time::sleep(RECHECK_AFTER + Duration::from_millis(100)).await;
        assert_eq!(me_status(&app, &token).await, 401);
    }

    async fn a_session_check_that_read_the_row_before_a_logout_committed_vouches_for_nothing_after(app) {
        let user = app.signed_in(Role::Applicant).await;
        assert_eq!(me_status(&app, &user.token).await, 200);
        // A second connection, as a request's session check on another pooled connection.
        let mut other = coproduce::db::connect_once(&app.state.settings.database).unwrap();
        let cache = app.state.verified_tokens.clone();
        let (token, session_id, user_id) = (user.token.clone(), user.session_id.clone(), user.id.clone());
        let read_before_commit = app.state.db.write(move |conn| {
            coproduce::db::queries::auth::revoke_session(conn, &session_id, "logout", Utc::now().naive_utc())?;
            // The check in the race: epoch read after the logout's bump, row read before its commit.
            let epoch = revocation_epoch();
            let live = coproduce::db::queries::auth::session_is_live(&mut other, &session_id, &user_id)?;
            let checked = coproduce::auth::AuthUser { id: user_id, roles: vec![Role::Applicant], session_id };
            cache.insert(&token, checked, Utc::now().timestamp() + 600, epoch);
            Ok(live)
        }).await.unwrap();
        assert!(read_before_commit, "the race was staged: the other connection saw the session live");
        let known = app.state.verified_tokens.get(&user.token, Utc::now().timestamp(), revocation_epoch());
        assert!(!matches!(known, Known::Live(_)), "{known:?}");
        assert_eq!(me_status(&app, &user.token).await, 401);
    }

    async fn access_token_in_steady_use_stops_within_a_second_when_another_replica_ends_its_session(app) {
        let signed_in = app.register_and_sign_in("busy@example.org").await;
        let token = signed_in["access_token"].as_str().unwrap().to_string();
        assert_eq!(me_status(&app, &token).await, 200);
        end_sessions_elsewhere(&app).await;
        // Used all along: the background recheck forgets it (only the recheck does; a lapsed
        // entry stays, vouching for the signature), and within the second it is refused.
        let revoked_at = std::time::Instant::now();
        let mut forgotten = false;
        while revoked_at.elapsed() < RECHECK_AFTER + Duration::from_millis(100) {
            me_status(&app, &token).await;
            forgotten |= matches!(
                app.state.verified_tokens.get(&token, Utc::now().timestamp(), revocation_epoch()),
                Known::Nothing
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(forgotten, "the recheck never forgot the token");
        assert_eq!(me_status(&app, &token).await, 401);
    }

    async fn a_recheck_keeps_tokens_of_live_sessions_and_forgets_those_ended_elsewhere(app) {
        let staying = app.register_and_sign_in("staying@example.org").await;
        let leaving = app.register_and_sign_in("leaving-elsewhere@example.org").await;
        let tokens: Vec<String> = [&staying, &leaving]
            .iter()
            .map(|signed_in| signed_in["access_token"].as_str().unwrap().to_string())
            .collect();
        for token in &tokens {
            assert_eq!(me_status(&app, token).await, 200);
            assert_eq!(me_status(&app, token).await, 200);
        }
        let leaving_id = leaving["user"]["id"].as_str().unwrap().to_string();
        app.state
            .db
            .write(move |conn| {
                diesel::sql_query("UPDATE sessions SET revoked_at = created_at WHERE user_id = $1")
                    .bind::<diesel::sql_types::Text, _>(leaving_id)
                    .execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
        let known = |token: &str| {
            app.state
                .verified_tokens
                .get(token, Utc::now().timestamp(), revocation_epoch())
        };
        // Used just now, so the background recheck cannot have asked about them since.
        known(&tokens[0]);
        known(&tokens[1]);
        session_recheck::recheck(&app.state).await.unwrap();
        // Other tests' logouts move the shared epoch: kept is Live or Signed, never forgotten.
        assert!(!matches!(known(&tokens[0]), Known::Nothing));
        assert!(matches!(known(&tokens[1]), Known::Nothing));
    }

    async fn token_with_alg_none_is_refused(app) {
        let user = app.signed_in(Role::Applicant).await;
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims_for(&app, &user)).unwrap());
        assert_eq!(me_status(&app, &format!("{header}.{payload}.")).await, 401);
    }

    async fn token_with_wrong_signature_is_refused(app) {
        let user = app.signed_in(Role::Applicant).await;
        let key = EncodingKey::from_secret(b"another-secret-entirely-0000000000000");
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims_for(&app, &user), &key).unwrap();
        assert_eq!(me_status(&app, &token).await, 401);
    }

    async fn expired_token_is_refused(app) {
        let user = app.signed_in(Role::Applicant).await;
        let mut claims = claims_for(&app, &user);
        claims.iat -= 3600;
        claims.nbf -= 3600;
        claims.exp = Utc::now().timestamp() - 120;
        assert_eq!(me_status(&app, &app.state.jwt.sign(&claims).unwrap()).await, 401);
    }

    async fn token_not_yet_valid_is_refused(app) {
        let user = app.signed_in(Role::Applicant).await;
        let mut claims = claims_for(&app, &user);
        claims.nbf += 3600;
        claims.exp += 3600;
        assert_eq!(me_status(&app, &app.state.jwt.sign(&claims).unwrap()).await, 401);
    }

    async fn token_for_another_audience_or_issuer_is_refused(app) {
        let user = app.signed_in(Role::Applicant).await;
        let mut claims = claims_for(&app, &user);
        claims.aud = "another-api".into();
        assert_eq!(me_status(&app, &app.state.jwt.sign(&claims).unwrap()).await, 401);
        let mut claims = claims_for(&app, &user);
        claims.iss = "someone-else".into();
        assert_eq!(me_status(&app, &app.state.jwt.sign(&claims).unwrap()).await, 401);
    }

    async fn token_of_another_type_is_refused(app) {
        let user = app.signed_in(Role::Applicant).await;
        let mut claims = claims_for(&app, &user);
        claims.typ = "refresh".into();
        assert_eq!(me_status(&app, &app.state.jwt.sign(&claims).unwrap()).await, 401);
    }

    async fn exp_sent_as_a_string_is_refused(app) {
        let user = app.signed_in(Role::Applicant).await;
        let mut payload = serde_json::to_value(claims_for(&app, &user)).unwrap();
        payload["exp"] = json!((Utc::now().timestamp() + 600).to_string());
        assert_eq!(me_status(&app, &sign_json(&app, &payload)).await, 401);
    }

    async fn token_signed_with_another_algorithm_is_refused(app) {
        let user = app.signed_in(Role::Applicant).await;
        let key = EncodingKey::from_secret(app.state.settings.auth.jwt_secret.as_bytes());
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS512), &claims_for(&app, &user), &key).unwrap();
        assert_eq!(me_status(&app, &token).await, 401);
    }

    async fn refresh_token_sent_as_an_access_token_is_refused(app) {
        let tokens = app.register_and_sign_in("sam@example.org").await;
        assert_eq!(me_status(&app, tokens["refresh_token"].as_str().unwrap()).await, 401);
        assert_eq!(me_status(&app, tokens["access_token"].as_str().unwrap()).await, 200);
    }

    async fn authorization_header_without_bearer_scheme_is_refused(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.client.get(app.url("/api/v1/me"))
            .header("authorization", format!("Token {}", user.token))
            .send().await.unwrap();
        assert_eq!(response.status(), 401);
    }
}
