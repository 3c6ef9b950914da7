//! Runs the identity store contract on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(
    identity:
    register_login_and_read_back,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    failed_logins_slow_down_then_lock_alike_for_known_and_unknown_emails,
    password_reset_ends_every_session,
    profile_updates_and_erasure,
    master_key_rotation_rewraps_every_data_key,
    no_plaintext_personal_data_in_the_store,
    staff_roles_and_api_keys,
    a_verified_external_identity_takes_back_a_squatted_account,
    the_audit_chain_holds_and_tampering_is_detected,
    changes_in_an_audit_scope_carry_their_entry,
);
