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
    }
}

diesel::table! {
    user_roles (user_id, role) {
        user_id -> Text,
        role -> Text,
        granted_at -> Timestamp,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, user_roles);
