//! No personal data in the logs. The real binary runs a whole journey (sign-up, special-category
//! data, an application and its decision, a partner request, matching, an invitation accepted,
//! every email sent through the worker to an SMTP server) with its log captured as production
//! writes it; then the log is searched for every name, address, local part, lived-experience
//! and access-need code and free-text phrase the journey used.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestDatabase, token_in};
use crate::matching::fitting_profile;
use crate::partners::element;
use crate::smtp_sink::{Mode, SmtpSink};

const ADMIN_EMAIL: &str = "orla.fenwick-admin@collective.example";
const APPLICANT_NAME: &str = "Winifred Ashcombe";
const APPLICANT_PREFERRED: &str = "Winnie";
const APPLICANT_EMAIL: &str = "winifred.ashcombe@mailbox.example";
const PARTNER_NAME: &str = "Bartholomew Quince";
const PARTNER_EMAIL: &str = "b.quince@northside-housing.example";
const ORGANISATION_EMAIL: &str = "enquiries@northside-housing.example";
const LIVED_EXPERIENCE: [&str; 2] = ["refugee_or_asylum", "domestic_abuse_survivor"];
const ACCESS_NEEDS: [&str; 2] = ["assistance_dog", "speech_to_text_reporter"];
const NEED_DETAIL: &str = "My guide dog Biscuit comes everywhere";
const GOOD_DAY_BAD_DAY: &str = "On a bad day I stay under my weighted blanket";
const ANSWER: &str = "I crossed three borders with my daughter";

/// The binary serving on a free port, its log read into memory as it is written.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(database_url: &str, smtp_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coproduce"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("APP_")) {
        command.env_remove(name);
    }
    command
        // The production format, and everything our own code logs, down to debug.
        .env("RUST_LOG", "info,coproduce=debug")
        .env("APP_LOG__FORMAT", "json")
        .env("APP_DATABASE__URL", database_url)
        .env("APP_SERVER__PORT", "0")
        .env("APP_EMAIL__TRANSPORT", "smtp")
        .env("APP_EMAIL__SMTP_URL", smtp_url)
        .env("APP_EMAIL__POLL_INTERVAL_MS", "50");
    command
}

fn start(database_url: &str, smtp_url: &str, log: Arc<Mutex<String>>) -> Server {
    let mut child = command(database_url, smtp_url)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out_log = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("coproduce listening on http://127.0.0.1:") {
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let _ = port_tx.send(port);
            }
            out_log.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let port = port_rx
        .recv_timeout(StdDuration::from_secs(60))
        .expect("the server says where it listens");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// The link token in the newest message to `address` (quoted-printable undone), once it arrives.
async fn link_token_to(sink: &SmtpSink, address: &str, seen_before: usize) -> String {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        let to_address: Vec<String> = sink
            .messages()
            .into_iter()
            .filter(|m| {
                m.contains(&format!("To: {address}")) || m.contains(&format!("<{address}>"))
            })
            .collect();
        if to_address.len() > seen_before {
            let text = to_address
                .last()
                .unwrap()
                .replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=");
            return token_in(&text);
        }
        assert!(Instant::now() < deadline, "no email to {address} arrived");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

async fn journey_leaves_no_personal_data_in_the_log(backend: Backend) {
    let Some((_database, database_url)) = TestDatabase::create(backend) else {
        return;
    };
    let sink = SmtpSink::start(Mode::Accept).await;
    let created = command(&database_url, &sink.url())
        .args(["create-admin", "--email", ADMIN_EMAIL])
        .env("COPRODUCE_ADMIN_PASSWORD", "correct horse battery staple")
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let log = Arc::new(Mutex::new(String::new()));
    log.lock()
        .unwrap()
        .push_str(&String::from_utf8_lossy(&created.stdout));
    log.lock()
        .unwrap()
        .push_str(&String::from_utf8_lossy(&created.stderr));
    let server = start(&database_url, &sink.url(), log.clone());
    let api = Client {
        http: reqwest::Client::new(),
        base: format!("{}/api/v1", server.base),
    };

    let admin = api.call("POST", "/auth/token", None, Some(json!({"grant_type": "password", "email": ADMIN_EMAIL, "password": "correct horse battery staple"}))).await;
    let admin = admin["access_token"].as_str().unwrap().to_string();
    let admin = Some(admin.as_str());

    // The applicant signs up, records special-category data, applies.
    api.call("POST", "/auth/register", None, Some(json!({"email": APPLICANT_EMAIL, "full_name": APPLICANT_NAME, "preferred_name": APPLICANT_PREFERRED}))).await;
    let token = link_token_to(&sink, APPLICANT_EMAIL, 0).await;
    let signed_in = api
        .call(
            "POST",
            "/auth/token",
            None,
            Some(json!({"grant_type": "magic_link", "token": token})),
        )
        .await;
    let person = signed_in["access_token"].as_str().unwrap().to_string();
    let person = Some(person.as_str());
    let mut profile = fitting_profile();
    profile["lived_experience"] = json!(LIVED_EXPERIENCE);
    api.call("PUT", "/me/profile", person, Some(profile)).await;
    let needs: Vec<Value> = ACCESS_NEEDS
        .iter()
        .map(|code| json!({"code": code, "detail": NEED_DETAIL}))
        .collect();
    api.call("PUT", "/me/access-passport", person, Some(json!({"needs": needs, "good_day_bad_day": GOOD_DAY_BAD_DAY, "access_to_work": true, "share_with_project_teams": true}))).await;
    api.call(
        "PUT",
        "/me/equal-opportunities",
        person,
        Some(json!({"age_band": "prefer_not_to_say"})),
    )
    .await;
    let now = Utc::now();
    let round = api.call("POST", "/rounds", admin, Some(json!({"title": "Peer researchers", "summary": "Join us.", "description": "Peer research.",
        "opens_at": (now - Duration::days(1)).to_rfc3339(), "closes_at": (now + Duration::days(14)).to_rfc3339(),
        "questions": [{"prompt": "Why do you want to join?", "required": true}]}))).await;
    let draft = api
        .call(
            "POST",
            &format!("/rounds/{}/applications", round["id"].as_str().unwrap()),
            person,
            None,
        )
        .await;
    let application = draft["id"].as_str().unwrap();
    api.call("PATCH", &format!("/applications/{application}"), person, Some(json!({"answers": [{"question_id": round["questions"][0]["id"], "text": ANSWER}], "consents": {"privacy_notice": true, "future_opportunities": true}}))).await;
    api.call(
        "POST",
        &format!("/applications/{application}/submit"),
        person,
        None,
    )
    .await;
    api.call("GET", &format!("/applications/{application}"), admin, None)
        .await;
    api.call(
        "POST",
        &format!("/applications/{application}/decision"),
        admin,
        Some(json!({"outcome": "accepted", "feedback": "Welcome aboard."})),
    )
    .await;

    // A partner joins by invitation and asks for co-producers.
    let organisation = api.call("POST", "/organisations", admin, Some(json!({"name": "Northside Housing", "kind": "charity", "contact_email": ORGANISATION_EMAIL}))).await;
    api.call("POST", "/users/invitations", admin, Some(json!({"email": PARTNER_EMAIL, "role": "partner", "organisation_id": organisation["id"]}))).await;
    let token = link_token_to(&sink, PARTNER_EMAIL, 0).await;
    let partner = api
        .call(
            "POST",
            "/users/invitations/accept",
            None,
            Some(json!({"token": token, "full_name": PARTNER_NAME})),
        )
        .await;
    let partner = partner["access_token"].as_str().unwrap().to_string();
    let partner = Some(partner.as_str());
    let request = api.call("POST", "/requests", partner, Some(json!({"title": "Housing review", "summary": "Shape our review.", "engagement_level": "co_produce", "elements": [element("Peer interviews")]}))).await;
    let project = api
        .call(
            "POST",
            &format!("/requests/{}/triage", request["id"].as_str().unwrap()),
            admin,
            Some(json!({"decision": "accept", "note": "We can help."})),
        )
        .await;
    let project = api
        .call(
            "GET",
            &format!("/projects/{}", project["project_id"].as_str().unwrap()),
            admin,
            None,
        )
        .await;
    let element_id = project["elements"][0]["id"].as_str().unwrap();

    // Matching, an invitation, and its acceptance; the partner sees who is coming.
    let candidates = api
        .call(
            "GET",
            &format!("/elements/{element_id}/candidates"),
            admin,
            None,
        )
        .await;
    let person_id = signed_in["user"]["id"].as_str().unwrap();
    assert_eq!(
        candidates["items"][0]["coproducer_id"], person_id,
        "{candidates}"
    );
    let invited = api.call("POST", &format!("/elements/{element_id}/invitations"), admin, Some(json!({"coproducer_ids": [person_id], "respond_by": (Utc::now() + Duration::days(5)).to_rfc3339()}))).await;
    api.call(
        "POST",
        &format!("/invitations/{}/accept", invited[0]["id"].as_str().unwrap()),
        person,
        None,
    )
    .await;
    api.call(
        "GET",
        &format!("/elements/{element_id}/assignments"),
        partner,
        None,
    )
    .await;

    // Every email of the journey has gone through the worker.
    let deadline = Instant::now() + StdDuration::from_secs(30);
    loop {
        let pending = api
            .call("GET", "/admin/outbox?status=pending", admin, None)
            .await;
        if pending["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "emails still pending: {pending}");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let sent = api
        .call("GET", "/admin/outbox?status=sent", admin, None)
        .await;
    let sent = sent["items"].as_array().unwrap().len();
    assert!(
        sent >= 6,
        "sign-in, received, decision, partner invitation, request, triage, invitation: {sent}"
    );
    let probe = reqwest::get(format!("{}/health/live", server.base))
        .await
        .unwrap();
    let request_id = probe.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    drop(server);
    let log = log.lock().unwrap().clone();

    // Positive control: the capture holds the journey's request lines and email lines.
    assert!(log.contains(&request_id), "the log was captured:\n{log}");
    assert!(
        log.contains("/api/v1/applications/{id}/decision"),
        "request lines are captured"
    );
    assert_eq!(
        log.matches("email sent").count(),
        sent,
        "each email sent is logged once"
    );
    assert!(
        log.contains("mailbox.example"),
        "recipients are logged by their domain"
    );

    let mut needles: Vec<String> = vec![
        ADMIN_EMAIL,
        APPLICANT_NAME,
        APPLICANT_EMAIL,
        PARTNER_NAME,
        PARTNER_EMAIL,
        ORGANISATION_EMAIL,
        NEED_DETAIL,
        GOOD_DAY_BAD_DAY,
        ANSWER,
        "Winifred",
        "Ashcombe",
        "Bartholomew",
        "Quince",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for address in [
        ADMIN_EMAIL,
        APPLICANT_EMAIL,
        PARTNER_EMAIL,
        ORGANISATION_EMAIL,
    ] {
        needles.push(address.split('@').next().unwrap().to_string());
    }
    needles.extend(
        LIVED_EXPERIENCE
            .iter()
            .chain(&ACCESS_NEEDS)
            .map(|code| code.to_string()),
    );
    needles.push(format!("\"{APPLICANT_PREFERRED}\""));
    let lower = log.to_lowercase();
    let found: Vec<&String> = needles
        .iter()
        .filter(|n| lower.contains(&n.to_lowercase()))
        .collect();
    assert!(
        found.is_empty(),
        "personal data in the log: {found:?}\n{log}"
    );
}

/// Mail servers often repeat the address in their refusal; the log keeps only its domain.
async fn a_refused_recipient_is_logged_by_domain_only(backend: Backend) {
    let Some((_database, database_url)) = TestDatabase::create(backend) else {
        return;
    };
    let sink = SmtpSink::start(Mode::RejectRecipient).await;
    let log = Arc::new(Mutex::new(String::new()));
    let server = start(&database_url, &sink.url(), log.clone());
    let api = Client {
        http: reqwest::Client::new(),
        base: format!("{}/api/v1", server.base),
    };
    api.call(
        "POST",
        "/auth/register",
        None,
        Some(json!({"email": APPLICANT_EMAIL, "full_name": APPLICANT_NAME})),
    )
    .await;
    let deadline = Instant::now() + StdDuration::from_secs(20);
    while !log.lock().unwrap().contains("email not sent") {
        assert!(
            Instant::now() < deadline,
            "the refusal was logged:\n{}",
            log.lock().unwrap()
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    drop(server);
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("User unknown"),
        "the server's reason is kept: {log}"
    );
    assert!(log.contains("mailbox.example"), "the domain is kept: {log}");
    let local_part = APPLICANT_EMAIL.split('@').next().unwrap();
    assert!(!log.contains(local_part), "the address is not: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_is_logged_by_domain_only_sqlite() {
    a_refused_recipient_is_logged_by_domain_only(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_is_logged_by_domain_only_postgres() {
    a_refused_recipient_is_logged_by_domain_only(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_journey_leaves_no_personal_data_in_the_log_sqlite() {
    journey_leaves_no_personal_data_in_the_log(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_journey_leaves_no_personal_data_in_the_log_postgres() {
    journey_leaves_no_personal_data_in_the_log(Backend::Postgres).await;
}
