// @generated-style Diesel schema for Relman's tables (kept by hand in step with migrations/).

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        roles -> Array<Text>,
        active -> Bool,
        session_epoch -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        calendar_token -> Nullable<Text>,
    }
}

diesel::table! {
    groups (id) {
        id -> Int8,
        name -> Text,
        description -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Int8,
        user_id -> Int8,
    }
}

diesel::table! {
    login_events (id) {
        id -> Int8,
        username -> Text,
        user_id -> Nullable<Int8>,
        outcome -> Text,
        address -> Text,
        at -> Timestamptz,
    }
}

diesel::table! {
    workflows (id) {
        id -> Int8,
        name -> Text,
        description -> Text,
        record_kind -> Text,
        retired -> Bool,
        draft -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        pre_approved -> Bool,
    }
}

diesel::table! {
    phases (id) {
        id -> Int8,
        workflow_id -> Int8,
        name -> Text,
        description -> Text,
        position -> Int4,
        duration_hours -> Int4,
        emergency_duration_hours -> Int4,
        condition -> Text,
        retired -> Bool,
        require_tasks_done -> Bool,
        entry_requires_changes_approved -> Bool,
        close_requires_changes_closed -> Bool,
        blocked_by_blackouts -> Bool,
        record_types -> Array<Text>,
        entry_requires_members_reached -> Bool,
    }
}

diesel::table! {
    phase_field_rules (phase_id, field) {
        phase_id -> Int8,
        field -> Text,
        rule -> Text,
    }
}

diesel::table! {
    transitions (id) {
        id -> Int8,
        workflow_id -> Int8,
        from_phase_id -> Int8,
        to_phase_id -> Nullable<Int8>,
        kind -> Text,
        label -> Text,
        roles -> Array<Text>,
        reason_required -> Bool,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    categories (id) {
        id -> Int8,
        name -> Text,
        description -> Text,
        record_kind -> Text,
        workflow_id -> Int8,
        retired -> Bool,
        created_at -> Timestamptz,
        record_types -> Array<Text>,
    }
}

diesel::table! {
    releases (id) {
        id -> Int8,
        number -> Int8,
        title -> Text,
        release_type -> Text,
        category_id -> Int8,
        workflow_id -> Int8,
        phase_id -> Int8,
        state -> Text,
        reason -> Text,
        registered_by -> Int8,
        coordinator_id -> Nullable<Int8>,
        manager_id -> Nullable<Int8>,
        assignment_group_id -> Nullable<Int8>,
        impact -> Text,
        urgency -> Text,
        risk -> Text,
        risk_override_reason -> Nullable<Text>,
        planned_start -> Nullable<Timestamptz>,
        planned_end -> Nullable<Timestamptz>,
        actual_start -> Nullable<Timestamptz>,
        actual_end -> Nullable<Timestamptz>,
        phase_entered_at -> Timestamptz,
        phase_due_at -> Nullable<Timestamptz>,
        backed_out -> Bool,
        version -> Int4,
        closed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        model_version_id -> Nullable<Int8>,
        kind -> Text,
        related_release_id -> Nullable<Int8>,
        package_id -> Nullable<Int8>,
    }
}

diesel::table! {
    release_details (release_id) {
        release_id -> Int8,
        description -> Text,
        affected_services -> Text,
        release_plan -> Text,
        deployment_plan -> Text,
        test_criteria -> Text,
        test_result -> Text,
        backout_plan -> Text,
        training_needs -> Text,
        financial_impact -> Text,
        verification -> Text,
        evaluation -> Text,
    }
}

diesel::table! {
    release_phase_visits (id) {
        id -> Int8,
        release_id -> Int8,
        phase_id -> Int8,
        status -> Text,
        entered_at -> Timestamptz,
        due_at -> Nullable<Timestamptz>,
        left_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    history_events (id) {
        id -> Int8,
        release_id -> Nullable<Int8>,
        actor_id -> Nullable<Int8>,
        at -> Timestamptz,
        record_version -> Int4,
        kind -> Text,
        summary -> Text,
        from_phase_id -> Nullable<Int8>,
        to_phase_id -> Nullable<Int8>,
        reason -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    history_field_changes (id) {
        id -> Int8,
        event_id -> Int8,
        field -> Text,
        old_value -> Text,
        new_value -> Text,
    }
}

diesel::table! {
    release_models (id) {
        id -> Int8,
        name -> Text,
        retired -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    release_model_versions (id) {
        id -> Int8,
        model_id -> Int8,
        version -> Int4,
        description -> Text,
        release_type -> Text,
        category_id -> Int8,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    model_tasks (id) {
        id -> Int8,
        model_version_id -> Int8,
        phase_id -> Int8,
        position -> Int4,
        title -> Text,
        description -> Text,
        assignee_role -> Nullable<Text>,
        group_id -> Nullable<Int8>,
        due_offset_hours -> Int4,
    }
}

diesel::table! {
    submissions (key) {
        key -> Text,
        user_id -> Int8,
        created_path -> Text,
        at -> Timestamptz,
    }
}

diesel::table! {
    tasks (id) {
        id -> Int8,
        release_id -> Int8,
        phase_id -> Int8,
        title -> Text,
        description -> Text,
        assignee_id -> Nullable<Int8>,
        group_id -> Nullable<Int8>,
        status -> Text,
        due_offset_hours -> Nullable<Int4>,
        due_at -> Nullable<Timestamptz>,
        completed_by -> Nullable<Int8>,
        completed_at -> Nullable<Timestamptz>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        started_by -> Nullable<Int8>,
        cancel_reason -> Text,
    }
}

diesel::table! {
    phase_approvals (phase_id) {
        phase_id -> Int8,
        group_id -> Int8,
        rule -> Text,
        quorum_count -> Nullable<Int4>,
        emergency_group_id -> Nullable<Int8>,
        emergency_rule -> Text,
        own_group_may_approve -> Bool,
    }
}

diesel::table! {
    approvals (id) {
        id -> Int8,
        release_id -> Int8,
        phase_id -> Int8,
        group_id -> Int8,
        rule -> Text,
        quorum_count -> Nullable<Int4>,
        cycle -> Int4,
        status -> Text,
        opened_at -> Timestamptz,
        decided_at -> Nullable<Timestamptz>,
        own_group_may_approve -> Bool,
    }
}

diesel::table! {
    approval_votes (id) {
        id -> Int8,
        approval_id -> Int8,
        cycle -> Int4,
        voter_id -> Int8,
        cast_by -> Int8,
        decision -> Text,
        comment -> Text,
        at -> Timestamptz,
        voter_parts -> Array<Text>,
        void_part -> Nullable<Text>,
    }
}

diesel::table! {
    approval_log (id) {
        id -> Int8,
        approval_id -> Int8,
        cycle -> Int4,
        actor_id -> Nullable<Int8>,
        on_behalf_of_id -> Nullable<Int8>,
        action -> Text,
        comment -> Text,
        at -> Timestamptz,
    }
}

diesel::table! {
    delegations (id) {
        id -> Int8,
        delegator_id -> Int8,
        delegate_id -> Int8,
        starts_on -> Date,
        ends_on -> Date,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    notifications (id) {
        id -> Int8,
        user_id -> Int8,
        release_id -> Nullable<Int8>,
        kind -> Text,
        subject -> Text,
        body -> Text,
        link -> Text,
        read_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    watchers (release_id, user_id) {
        release_id -> Int8,
        user_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Int8,
        notification_id -> Nullable<Int8>,
        to_address -> Text,
        subject -> Text,
        text_body -> Text,
        link -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    alerts (id) {
        id -> Int8,
        release_id -> Int8,
        kind -> Text,
        subject_id -> Int8,
        detail -> Text,
        raised_at -> Timestamptz,
        cleared_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    knowledge_articles (id) {
        id -> Int8,
        title -> Text,
        body -> Text,
        category_id -> Int8,
        affected_services -> Text,
        release_id -> Nullable<Int8>,
        published_by -> Int8,
        published_at -> Timestamptz,
    }
}

diesel::table! {
    admin_audit (id) {
        id -> Int8,
        actor_id -> Nullable<Int8>,
        action -> Text,
        address -> Text,
        at -> Timestamptz,
        own_access_change -> Nullable<Text>,
    }
}

diesel::table! {
    record_state_counts (kind, state) {
        kind -> Text,
        state -> Text,
        n -> Int8,
    }
}

diesel::table! {
    user_sessions (id) {
        id -> Text,
        user_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(user_sessions -> users (user_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(knowledge_articles -> categories (category_id));
diesel::joinable!(alerts -> releases (release_id));
diesel::joinable!(approvals -> releases (release_id));
diesel::joinable!(phase_approvals -> phases (phase_id));
diesel::joinable!(approvals -> groups (group_id));
diesel::joinable!(approval_votes -> approvals (approval_id));
diesel::joinable!(approval_log -> approvals (approval_id));
diesel::joinable!(release_model_versions -> release_models (model_id));
diesel::joinable!(model_tasks -> release_model_versions (model_version_id));
diesel::joinable!(tasks -> releases (release_id));
diesel::joinable!(tasks -> phases (phase_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(phases -> workflows (workflow_id));
diesel::joinable!(phase_field_rules -> phases (phase_id));
diesel::joinable!(categories -> workflows (workflow_id));
diesel::joinable!(releases -> categories (category_id));
diesel::joinable!(releases -> phases (phase_id));
diesel::joinable!(release_phase_visits -> releases (release_id));
diesel::joinable!(release_details -> releases (release_id));
diesel::joinable!(history_field_changes -> history_events (event_id));

diesel::table! {
    blackouts (id) {
        id -> Int8,
        name -> Text,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        category_id -> Nullable<Int8>,
        created_by -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(blackouts -> categories (category_id));

diesel::allow_tables_to_appear_in_same_query!(
    submissions,
    users,
    user_sessions,
    record_state_counts,
    groups,
    group_members,
    login_events,
    workflows,
    phases,
    phase_field_rules,
    transitions,
    categories,
    releases,
    release_details,
    release_phase_visits,
    history_events,
    history_field_changes,
    release_models,
    release_model_versions,
    model_tasks,
    tasks,
    phase_approvals,
    approvals,
    approval_votes,
    approval_log,
    delegations,
    notifications,
    watchers,
    mail_outbox,
    alerts,
    knowledge_articles,
    admin_audit,
    blackouts,
    config_generation,
);

diesel::table! {
    config_generation (only_row) {
        only_row -> Bool,
        n -> Int8,
    }
}
