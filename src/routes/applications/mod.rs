//! Applications: the applicant's own, the coordinator's full view, and the reviewer's
//! anonymised view. Anyone else gets 404.

use std::collections::{BTreeMap, HashMap};

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::crypto::Field;
use crate::db::DbConn;
use crate::db::models::recruitment::{ApplicationRow, QuestionRow, RoundHead, RoundRow};
use crate::db::models::user::UserRow;
use crate::db::queries::owner_views::{self, OwnerView};
use crate::db::queries::{audit, people, pool, recruitment as queries, users};
use crate::domain::profile::Skill;
use crate::domain::recruitment::{ApplicationStatus, QuestionRule};
use crate::domain::role::Role;
use crate::error::AppError;
use crate::state::AppState;

pub mod own;
pub mod review;

/// The shape of the owner's view as stored (`application_owner_views.format`). Bump it with any
/// change to what `ApplicationView` serialises for the owner, so views stored in the old shape
/// are built afresh instead of served (the test `the_owner_view_shape_is_pinned_to_its_format`).
pub const OWNER_VIEW_FORMAT: i32 = 1;

/// A JSON body already serialised, such as a stored owner's view.
pub fn json_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::json())
        .body(body)
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Consents {
    /// I have read the privacy notice and agree to it (needed to submit).
    pub privacy_notice: bool,
    /// You may tell me about future opportunities.
    pub future_opportunities: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnswerView {
    pub question_id: String,
    pub prompt: String,
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Applicant {
    pub user_id: String,
    pub full_name: String,
    pub preferred_name: Option<String>,
    pub email: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScoreView {
    pub question_id: String,
    #[schema(minimum = 0, maximum = 4)]
    pub score: i32,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewerScores {
    pub reviewer_id: String,
    pub scores: Vec<ScoreView>,
    /// This reviewer's mean score (0–4).
    pub mean: f64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuestionScores {
    pub question_id: String,
    pub average: f64,
    /// Highest score minus lowest: a large spread means reviewers disagree.
    pub spread: i32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewSummary {
    pub reviews: usize,
    /// Mean of the reviewers' means (0–4); null before any review.
    pub average: Option<f64>,
    /// Highest reviewer mean minus lowest.
    pub spread: Option<f64>,
    pub per_question: Vec<QuestionScores>,
    pub reviewers: Vec<ReviewerScores>,
}

/// The applicant's and the coordinator's view.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub round_id: String,
    pub round_title: String,
    pub status: ApplicationStatus,
    pub answers: Vec<AnswerView>,
    pub consents: Consents,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub feedback: Option<String>,
    /// Coordinators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applicant: Option<Applicant>,
    /// Coordinators only; every read is audited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lived_experience: Option<Vec<String>>,
    /// Coordinators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_summary: Option<ReviewSummary>,
}

/// What a reviewer sees: answers and relevant experience, nothing that says who the person is.
/// No name, contact details, equal-opportunities answers, access needs, user id or dates.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnonymisedApplication {
    pub id: String,
    pub round_id: String,
    pub status: ApplicationStatus,
    pub answers: Vec<AnswerView>,
    pub skills: Vec<Skill>,
    pub interests: Vec<String>,
    /// Every read is audited.
    pub lived_experience: Vec<String>,
    /// Your own scores, if you have reviewed it.
    pub my_review: Option<Vec<ScoreView>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ApplicationResponse {
    Full(Box<ApplicationView>),
    Anonymised(AnonymisedApplication),
}

/// How the signed-in user relates to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Owner,
    Coordinator,
    /// On the round's review panel (never sees drafts).
    Reviewer,
}

pub fn viewer_of(
    conn: &mut DbConn,
    user: &AuthUser,
    application: &ApplicationRow,
) -> Result<Viewer, AppError> {
    if application.user_id == user.id {
        return Ok(Viewer::Owner);
    }
    if user.has_role(Role::Coordinator) {
        return Ok(Viewer::Coordinator);
    }
    if is_under_consideration(application)
        && user.has_role(Role::Reviewer)
        && queries::is_reviewer(conn, &application.round_id, &user.id)?
    {
        return Ok(Viewer::Reviewer);
    }
    Err(AppError::NotFound)
}

/// Submitted and not withdrawn: the person has asked to be considered. Only then do reviewers
/// see it, and only then does anyone but the person see their lived experience.
pub fn is_under_consideration(application: &ApplicationRow) -> bool {
    application.submitted_at.is_some()
        && application.status != ApplicationStatus::Withdrawn.as_str()
}

/// An application with its round, questions and answers.
pub struct Loaded {
    pub application: ApplicationRow,
    pub round: RoundHead,
    pub questions: Vec<QuestionRow>,
    pub answers: Vec<(String, String)>,
}

impl Loaded {
    /// Two queries: the application with its round, then the questions with their answers.
    pub fn load(conn: &mut DbConn, id: &str) -> Result<Loaded, AppError> {
        let (application, round) =
            queries::find_application_with_round(conn, id)?.ok_or(AppError::NotFound)?;
        Self::assemble(conn, application, round)
    }

    pub fn with(conn: &mut DbConn, application: ApplicationRow) -> Result<Loaded, AppError> {
        let round =
            queries::find_round_head(conn, &application.round_id)?.ok_or(AppError::NotFound)?;
        Self::assemble(conn, application, round)
    }

    fn assemble(
        conn: &mut DbConn,
        application: ApplicationRow,
        round: RoundHead,
    ) -> Result<Loaded, AppError> {
        let mut questions = Vec::new();
        let mut answers = Vec::new();
        for (question, answer) in queries::questions_with_answers(conn, &round.id, &application.id)?
        {
            if let Some(text) = answer {
                answers.push((question.id.clone(), text));
            }
            questions.push(question);
        }
        Ok(Loaded {
            application,
            round,
            questions,
            answers,
        })
    }

    /// Applications of one round, in the order given, with one query for all their questions
    /// and answers.
    pub fn all_in(
        conn: &mut DbConn,
        round: &RoundRow,
        applications: Vec<ApplicationRow>,
    ) -> Result<Vec<Loaded>, AppError> {
        if applications.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = applications.iter().map(|a| a.id.clone()).collect();
        let head = RoundHead::from(round);
        let mut questions: Vec<QuestionRow> = Vec::new();
        let mut answers: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (question, answer) in queries::questions_with_answers_of(conn, &round.id, &ids)? {
            if let Some((application_id, text)) = answer {
                answers
                    .entry(application_id)
                    .or_default()
                    .push((question.id.clone(), text));
            }
            // One row per answer: the same question comes again, next to itself.
            if questions.last().is_none_or(|last| last.id != question.id) {
                questions.push(question);
            }
        }
        Ok(applications
            .into_iter()
            .map(|application| Loaded {
                answers: answers.remove(&application.id).unwrap_or_default(),
                application,
                round: head.clone(),
                questions: questions.clone(),
            })
            .collect())
    }

    pub fn status(&self) -> Result<ApplicationStatus, AppError> {
        ApplicationStatus::parse(&self.application.status)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown stored status")))
    }

    pub fn rules(&self) -> Vec<QuestionRule<'_>> {
        self.questions
            .iter()
            .map(|q| QuestionRule {
                id: &q.id,
                prompt: &q.prompt,
                required: q.required,
                max_words: q.max_words,
            })
            .collect()
    }

    pub fn consents(&self) -> Consents {
        serde_json::from_str(&self.application.consents).unwrap_or_default()
    }

    fn answer_views(&self) -> Vec<AnswerView> {
        self.questions
            .iter()
            .filter_map(|q| {
                self.answers
                    .iter()
                    .find(|(id, _)| *id == q.id)
                    .map(|(_, text)| AnswerView {
                        question_id: q.id.clone(),
                        prompt: q.prompt.clone(),
                        text: text.clone(),
                    })
            })
            .collect()
    }

    /// The owner's view as JSON, stored as the read model their `GET` answers from. Call it after
    /// the unit of work's last change to the application.
    pub fn keep_owner_view(&self, conn: &mut DbConn) -> Result<String, AppError> {
        let body = self.owner_view_json()?;
        owner_views::store(
            conn,
            &OwnerView {
                application_id: &self.application.id,
                user_id: &self.application.user_id,
                round_id: &self.round.id,
                round_title: &self.round.title,
                format: OWNER_VIEW_FORMAT,
                body: &body,
            },
        )?;
        Ok(body)
    }

    /// The owner's view as JSON, exactly as their `GET` sends it.
    pub fn owner_view_json(&self) -> Result<String, AppError> {
        let view = self.render(Viewer::Owner, &self.application.user_id, None)?;
        serde_json::to_string(&view).map_err(|e| AppError::Internal(e.into()))
    }

    /// The view `viewer` may see. Reads of lived experience by others are audited under `route`.
    pub fn view(
        &self,
        conn: &mut DbConn,
        state: &AppState,
        viewer: Viewer,
        actor: &str,
        route: &str,
    ) -> Result<ApplicationResponse, AppError> {
        let mut extras = Extras::load(
            conn,
            state,
            std::slice::from_ref(&self.application),
            viewer,
            actor,
            route,
        )?;
        self.render(viewer, actor, extras.remove(&self.application.id))
    }

    /// [`Loaded::view`] of each of `loaded`, with a fixed number of queries for them all.
    pub fn views(
        loaded: &[Loaded],
        conn: &mut DbConn,
        state: &AppState,
        viewer: Viewer,
        actor: &str,
        route: &str,
    ) -> Result<Vec<ApplicationResponse>, AppError> {
        let applications: Vec<ApplicationRow> =
            loaded.iter().map(|l| l.application.clone()).collect();
        let mut extras = Extras::load(conn, state, &applications, viewer, actor, route)?;
        loaded
            .iter()
            .map(|l| l.render(viewer, actor, extras.remove(&l.application.id)))
            .collect()
    }

    fn render(
        &self,
        viewer: Viewer,
        actor: &str,
        extras: Option<Extras>,
    ) -> Result<ApplicationResponse, AppError> {
        let a = &self.application;
        let extras = extras.unwrap_or_default();
        if viewer == Viewer::Reviewer {
            let mine: Vec<ScoreView> = extras
                .scores
                .into_iter()
                .filter(|(reviewer, ..)| reviewer == actor)
                .map(|(_, question_id, score, note)| ScoreView {
                    question_id,
                    score,
                    note,
                })
                .collect();
            return Ok(ApplicationResponse::Anonymised(AnonymisedApplication {
                id: a.id.clone(),
                round_id: a.round_id.clone(),
                status: self.status()?,
                answers: self.answer_views(),
                skills: extras.skills.into_iter().map(Skill::from_stored).collect(),
                interests: extras.interests,
                lived_experience: extras.lived_experience.unwrap_or_default(),
                my_review: (!mine.is_empty()).then_some(mine),
            }));
        }
        let mut view = ApplicationView {
            id: a.id.clone(),
            round_id: a.round_id.clone(),
            round_title: self.round.title.clone(),
            status: self.status()?,
            answers: self.answer_views(),
            consents: self.consents(),
            created_at: a.created_at.and_utc(),
            submitted_at: a.submitted_at.map(|at| at.and_utc()),
            decided_at: a.decided_at.map(|at| at.and_utc()),
            outcome: a.outcome.clone(),
            feedback: a.feedback.clone(),
            applicant: None,
            lived_experience: None,
            review_summary: None,
        };
        if viewer == Viewer::Coordinator {
            let person = extras.applicant.ok_or(AppError::NotFound)?;
            view.applicant = Some(Applicant {
                user_id: person.id,
                full_name: person.full_name,
                preferred_name: person.preferred_name,
                email: person.email,
            });
            view.lived_experience = extras.lived_experience;
            view.review_summary = Some(summarise(extras.scores));
        }
        Ok(ApplicationResponse::Full(Box::new(view)))
    }
}

/// What the coordinator's and the reviewer's views show of an application besides its own
/// rows: nothing for the owner.
#[derive(Default)]
struct Extras {
    /// Coordinators only.
    applicant: Option<UserRow>,
    /// Decrypted, its read audited. Coordinators see it only once the person has applied.
    lived_experience: Option<Vec<String>>,
    scores: Vec<queries::ScoreRow>,
    /// Reviewers only, like `interests`.
    skills: Vec<(String, i32)>,
    interests: Vec<String>,
}

impl Extras {
    /// The extras of each of `applications` (by application id), in a fixed number of queries.
    fn load(
        conn: &mut DbConn,
        state: &AppState,
        applications: &[ApplicationRow],
        viewer: Viewer,
        actor: &str,
        route: &str,
    ) -> Result<HashMap<String, Extras>, AppError> {
        let mut extras: HashMap<String, Extras> = HashMap::new();
        if viewer == Viewer::Owner || applications.is_empty() {
            return Ok(extras);
        }
        let ids: Vec<String> = applications.iter().map(|a| a.id.clone()).collect();
        let persons: Vec<String> = applications.iter().map(|a| a.user_id.clone()).collect();
        // Reviewers only ever get applications under consideration (`viewer_of`, the list).
        let shows_lived_experience =
            |a: &ApplicationRow| viewer == Viewer::Reviewer || is_under_consideration(a);
        let mut applicants: HashMap<String, UserRow> = HashMap::new();
        let mut skills: HashMap<String, Vec<(String, i32)>> = HashMap::new();
        let mut interests: HashMap<String, Vec<String>> = HashMap::new();
        if viewer == Viewer::Coordinator {
            applicants = users::find_by_ids(conn, &persons)?
                .into_iter()
                .map(|u| (u.id.clone(), u))
                .collect();
            // Before any read is audited: nothing is shown.
            if persons.iter().any(|p| !applicants.contains_key(p)) {
                return Err(AppError::NotFound);
            }
        } else {
            for (user_id, code, level) in pool::skills_of(conn, &persons)? {
                skills.entry(user_id).or_default().push((code, level));
            }
            for (user_id, code) in pool::interests_of(conn, &persons)? {
                interests.entry(user_id).or_default().push(code);
            }
        }
        let readable: Vec<String> = applications
            .iter()
            .filter(|a| shows_lived_experience(a))
            .map(|a| a.user_id.clone())
            .collect();
        let ciphertexts: HashMap<String, Vec<u8>> = if readable.is_empty() {
            HashMap::new()
        } else {
            people::lived_experience_of(conn, &readable)?
                .into_iter()
                .collect()
        };
        let read: Vec<String> = readable
            .iter()
            .filter(|p| ciphertexts.contains_key(*p))
            .cloned()
            .collect();
        audit::record_reads(conn, actor, &read, Field::LivedExperience, route)?;
        let mut scores: HashMap<String, Vec<queries::ScoreRow>> = HashMap::new();
        for (application_id, row) in queries::scores_of(conn, &ids)? {
            scores.entry(application_id).or_default().push(row);
        }
        for a in applications {
            let lived_experience = if shows_lived_experience(a) {
                Some(match ciphertexts.get(&a.user_id) {
                    None => Vec::new(),
                    Some(ciphertext) => state
                        .cipher
                        .decrypt_json(&a.user_id, Field::LivedExperience, ciphertext)
                        .map_err(|e| AppError::Internal(e.into()))?,
                })
            } else {
                None
            };
            // Skills and interests come with a profile: none without one.
            let has_profile = ciphertexts.contains_key(&a.user_id);
            extras.insert(
                a.id.clone(),
                Extras {
                    applicant: applicants.get(&a.user_id).cloned(),
                    lived_experience,
                    scores: scores.remove(&a.id).unwrap_or_default(),
                    skills: if has_profile {
                        skills.remove(&a.user_id).unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                    interests: if has_profile {
                        interests.remove(&a.user_id).unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                },
            );
        }
        Ok(extras)
    }
}

pub fn summarise(rows: Vec<queries::ScoreRow>) -> ReviewSummary {
    let mut by_reviewer: BTreeMap<String, Vec<ScoreView>> = BTreeMap::new();
    let mut by_question: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (reviewer, question_id, score, note) in rows {
        by_question
            .entry(question_id.clone())
            .or_default()
            .push(score);
        by_reviewer.entry(reviewer).or_default().push(ScoreView {
            question_id,
            score,
            note,
        });
    }
    let reviewers: Vec<ReviewerScores> = by_reviewer
        .into_iter()
        .map(|(reviewer_id, scores)| {
            let mean = mean(scores.iter().map(|s| s.score));
            ReviewerScores {
                reviewer_id,
                scores,
                mean,
            }
        })
        .collect();
    let means: Vec<f64> = reviewers.iter().map(|r| r.mean).collect();
    let (low, high) = means
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), m| (lo.min(*m), hi.max(*m)));
    ReviewSummary {
        reviews: reviewers.len(),
        average: (!means.is_empty()).then(|| means.iter().sum::<f64>() / means.len() as f64),
        spread: (!means.is_empty()).then_some(high - low),
        per_question: by_question
            .into_iter()
            .map(|(question_id, scores)| QuestionScores {
                average: mean(scores.iter().copied()),
                spread: scores.iter().max().unwrap_or(&0) - scores.iter().min().unwrap_or(&0),
                question_id,
            })
            .collect(),
        reviewers,
    }
}

fn mean(scores: impl Iterator<Item = i32>) -> f64 {
    let (sum, count) = scores.fold((0i64, 0u32), |(s, c), x| (s + i64::from(x), c + 1));
    if count == 0 {
        0.0
    } else {
        sum as f64 / f64::from(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_gives_average_and_spread_of_reviewer_means() {
        let rows = vec![
            ("r1".to_string(), "q1".to_string(), 4, None),
            ("r1".to_string(), "q2".to_string(), 2, None),
            ("r2".to_string(), "q1".to_string(), 1, None),
            (
                "r2".to_string(),
                "q2".to_string(),
                1,
                Some("thin".to_string()),
            ),
        ];
        let summary = summarise(rows);
        assert_eq!(summary.reviews, 2);
        assert_eq!(summary.average, Some(2.0));
        assert_eq!(summary.spread, Some(2.0));
        assert_eq!(summary.per_question[0].spread, 3);
        assert_eq!(summary.per_question[0].average, 2.5);
    }

    fn at(text: &str) -> chrono::NaiveDateTime {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap_or_default()
    }

    #[test]
    fn the_owner_view_shape_is_pinned_to_its_format() {
        let loaded = Loaded {
            application: ApplicationRow {
                id: "a1".into(),
                round_id: "r1".into(),
                user_id: "u1".into(),
                status: "submitted".into(),
                consents: r#"{"privacy_notice":true}"#.into(),
                outcome: None,
                feedback: None,
                submitted_at: Some(at("2027-01-02 03:04:05.123456")),
                decided_at: None,
                created_at: at("2027-01-01 00:00:00"),
                updated_at: at("2027-01-02 03:04:05.123456"),
                answer_by: None,
            },
            round: RoundHead {
                id: "r1".into(),
                title: "Peer researchers".into(),
                opens_at: at("2026-12-01 00:00:00"),
                closes_at: at("2027-02-01 00:00:00"),
                closed_at: None,
                answer_by_days: 21,
            },
            questions: vec![QuestionRow {
                id: "q1".into(),
                round_id: "r1".into(),
                position: 0,
                prompt: "Why?".into(),
                guidance: None,
                required: true,
                max_words: None,
            }],
            answers: vec![("q1".into(), "Because.".into())],
        };
        let json = loaded.owner_view_json().unwrap_or_default();
        // Changed the owner's view? Bump OWNER_VIEW_FORMAT, so that views stored in the old
        // shape are built afresh instead of served, then record the new shape here.
        assert_eq!(
            (OWNER_VIEW_FORMAT, json.as_str()),
            (
                1,
                r#"{"id":"a1","round_id":"r1","round_title":"Peer researchers","status":"submitted","answers":[{"question_id":"q1","prompt":"Why?","text":"Because."}],"consents":{"privacy_notice":true,"future_opportunities":false},"created_at":"2027-01-01T00:00:00Z","submitted_at":"2027-01-02T03:04:05.123456Z","decided_at":null,"outcome":null,"feedback":null}"#
            )
        );
    }

    #[test]
    fn summary_before_any_review_is_empty() {
        let summary = summarise(Vec::new());
        assert_eq!(
            (summary.reviews, summary.average, summary.spread),
            (0, None, None)
        );
    }
}
