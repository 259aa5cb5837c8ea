//! Hand-written schema in types both backends share: Text (ids, enums, JSON), Integer/BigInt,
//! Bool, Timestamp (UTC `NaiveDateTime`), Binary. A test checks it against both migration sets.

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        full_name -> Text,
        preferred_name -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        email_format -> Text,
        email_digest -> Bool,
        email_verified_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_roles (user_id, role) {
        user_id -> Text,
        role -> Text,
        granted_at -> Timestamp,
    }
}

diesel::table! {
    magic_links (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        session_id -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    organisations (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        contact_email -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    organisation_members (organisation_id, user_id) {
        organisation_id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    staff_invitations (id) {
        id -> Text,
        email -> Text,
        role -> Text,
        organisation_id -> Nullable<Text>,
        invited_by -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        accepted_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        message_id -> Text,
        template -> Text,
        user_id -> Nullable<Text>,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        attachment_filename -> Nullable<Text>,
        attachment_content_type -> Nullable<Text>,
        attachment_body -> Nullable<Binary>,
        mentions -> Nullable<Text>,
        sealed_body -> Nullable<Binary>,
    }
}

diesel::table! {
    profiles (user_id) {
        user_id -> Text,
        document -> Text,
        lived_experience -> Binary,
        remote -> Bool,
        in_person -> Bool,
        hours_per_month -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    profile_skills (user_id, code) {
        user_id -> Text,
        code -> Text,
        level -> Integer,
    }
}

diesel::table! {
    profile_interests (user_id, code) {
        user_id -> Text,
        code -> Text,
    }
}

diesel::table! {
    access_passports (user_id) {
        user_id -> Text,
        ciphertext -> Binary,
        share_with_project_teams -> Bool,
        updated_at -> Timestamp,
        review_by -> Nullable<Date>,
        review_reminded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    equal_opportunities (user_id) {
        user_id -> Text,
        ciphertext -> Binary,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        actor_id -> Text,
        subject_id -> Text,
        data -> Text,
        action -> Text,
        route -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    coproducers (user_id) {
        user_id -> Text,
        status -> Text,
        paused_until -> Nullable<Timestamp>,
        archived_reason -> Nullable<Text>,
        joined_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    rounds (id) {
        id -> Text,
        title -> Text,
        summary -> Text,
        description -> Text,
        easy_read_summary -> Nullable<Text>,
        opens_at -> Timestamp,
        closes_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        places -> Nullable<Integer>,
        answer_by_days -> Integer,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    round_questions (id) {
        id -> Text,
        round_id -> Text,
        position -> Integer,
        prompt -> Text,
        guidance -> Nullable<Text>,
        required -> Bool,
        max_words -> Nullable<Integer>,
    }
}

diesel::table! {
    round_reviewers (round_id, user_id) {
        round_id -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    applications (id) {
        id -> Text,
        round_id -> Text,
        user_id -> Text,
        status -> Text,
        consents -> Text,
        outcome -> Nullable<Text>,
        feedback -> Nullable<Text>,
        submitted_at -> Nullable<Timestamp>,
                decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        answer_by -> Nullable<Timestamp>,
        content_removed_at -> Nullable<Timestamp>,
        unsent_reminded_at -> Nullable<Timestamp>,
        unsent_closed_told_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    application_answers (application_id, question_id) {
        application_id -> Text,
        question_id -> Text,
        text -> Text,
    }
}

diesel::table! {
    application_owner_views (application_id) {
        application_id -> Text,
        user_id -> Text,
        round_id -> Text,
        round_title -> Text,
        format -> Integer,
        body -> Text,
    }
}

diesel::table! {
    application_transitions (id) {
        id -> Text,
        application_id -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor_id -> Text,
        note -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    reviews (id) {
        id -> Text,
        application_id -> Text,
        reviewer_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    review_scores (review_id, question_id) {
        review_id -> Text,
        question_id -> Text,
        score -> Integer,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    round_reminders (round_id, sent_on) {
        round_id -> Text,
        sent_on -> Text,
    }
}

diesel::table! {
    partner_requests (id) {
        id -> Text,
        organisation_id -> Text,
        submitted_by -> Text,
        title -> Text,
        summary -> Text,
        engagement_level -> Text,
        budget_pence -> Nullable<BigInt>,
        access_budget_pence -> Nullable<BigInt>,
        elements -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    request_events (id) {
        id -> Text,
        request_id -> Text,
        status -> Text,
        actor_id -> Text,
        note -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    projects (id) {
        id -> Text,
        request_id -> Text,
        organisation_id -> Text,
        title -> Text,
        summary -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    elements (id) {
        id -> Text,
        project_id -> Text,
        position -> Integer,
        spec -> Text,
        mode -> Text,
        people_needed -> Integer,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        status_changed_at -> Nullable<Timestamp>,
        partner_told_filled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invitation_offers (invitation_id, sent_at) {
        invitation_id -> Text,
        coproducer_id -> Text,
        sent_by -> Text,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    session_reminders (assignment_id, session_starts_at) {
        assignment_id -> Text,
        session_starts_at -> Timestamp,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    element_sessions (id) {
        id -> Text,
        element_id -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
    }
}

diesel::table! {
    conflicts_of_interest (user_id, organisation_id) {
        user_id -> Text,
        organisation_id -> Text,
        note -> Nullable<Text>,
        declared_at -> Timestamp,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        element_id -> Text,
        coproducer_id -> Text,
        status -> Text,
        respond_by -> Timestamp,
        message -> Nullable<Text>,
        score_hundredths -> Integer,
        breakdown -> Text,
        invited_by -> Text,
        decline_reason -> Nullable<Text>,
        created_at -> Timestamp,
        responded_at -> Nullable<Timestamp>,
        sealed_breakdown -> Nullable<Binary>,
    }
}

diesel::table! {
    assignments (id) {
        id -> Text,
        element_id -> Text,
        coproducer_id -> Text,
        invitation_id -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    assignment_events (id) {
        id -> Text,
        assignment_id -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor_id -> Text,
        note -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    claims (id) {
        id -> Text,
        assignment_id -> Text,
        coproducer_id -> Text,
        minutes_worked -> Integer,
        fee_pence -> BigInt,
        expenses_pence -> BigInt,
        expenses_note -> Nullable<Text>,
        note -> Nullable<Text>,
        status -> Text,
        decided_by -> Nullable<Text>,
        decision_note -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        paid_by -> Nullable<Text>,
        paid_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> Text,
        key -> Text,
        request_path -> Text,
        status -> Nullable<Integer>,
        content_type -> Nullable<Text>,
        body -> Nullable<Text>,
        created_at -> Timestamp,
        erasures_seen -> Nullable<BigInt>,
    }
}

diesel::table! {
    erasure_count (id) {
        id -> Integer,
        erasures -> BigInt,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(magic_links -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(organisation_members -> organisations (organisation_id));
diesel::joinable!(applications -> rounds (round_id));
diesel::joinable!(applications -> users (user_id));
diesel::joinable!(round_questions -> rounds (round_id));
diesel::joinable!(application_answers -> applications (application_id));
diesel::joinable!(application_owner_views -> rounds (round_id));
diesel::joinable!(application_answers -> round_questions (question_id));
diesel::joinable!(review_scores -> round_questions (question_id));
diesel::joinable!(review_scores -> reviews (review_id));
diesel::joinable!(reviews -> applications (application_id));
diesel::joinable!(elements -> projects (project_id));
diesel::joinable!(round_reviewers -> rounds (round_id));
diesel::joinable!(coproducers -> users (user_id));
diesel::joinable!(invitations -> elements (element_id));
diesel::joinable!(assignments -> elements (element_id));
diesel::joinable!(assignment_events -> assignments (assignment_id));
diesel::table! {
    adjustment_arrangements (assignment_id) {
        assignment_id -> Text,
        ciphertext -> Binary,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payment_runs (id) {
        id -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        paid_by -> Nullable<Text>,
        paid_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    element_outcomes (element_id) {
        element_id -> Text,
        summary -> Text,
        easy_read -> Nullable<Text>,
        written_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payment_run_claims (claim_id) {
        claim_id -> Text,
        run_id -> Text,
    }
}

diesel::joinable!(claims -> assignments (assignment_id));
diesel::joinable!(payment_run_claims -> claims (claim_id));
diesel::joinable!(payment_run_claims -> payment_runs (run_id));
diesel::joinable!(element_sessions -> elements (element_id));
diesel::joinable!(session_reminders -> assignments (assignment_id));
diesel::joinable!(invitation_offers -> invitations (invitation_id));
diesel::joinable!(element_outcomes -> elements (element_id));
diesel::table! {
    daily_reminders (kind, sent_on) {
        kind -> Text,
        sent_on -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    user_roles,
    magic_links,
    sessions,
    refresh_tokens,
    organisations,
    organisation_members,
    staff_invitations,
    outbox,
    profiles,
    profile_skills,
    profile_interests,
    access_passports,
    equal_opportunities,
    audit_log,
    coproducers,
    rounds,
    round_questions,
    round_reviewers,
    applications,
    application_answers,
    application_owner_views,
    application_transitions,
    reviews,
    review_scores,
    round_reminders,
    daily_reminders,
    partner_requests,
    request_events,
    projects,
    elements,
    element_sessions,
    session_reminders,
    invitation_offers,
    element_outcomes,
    conflicts_of_interest,
    invitations,
    assignments,
    claims,
    adjustment_arrangements,
    payment_runs,
    payment_run_claims,
    assignment_events,
    idempotency_keys,
    erasure_count,
);
