//! Runs the store contract on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(
    contract:
    product_round_trips,
    writes_put_their_events_in_the_outbox_in_order,
    duplicate_slug_is_refused_and_changes_nothing,
    a_sku_belongs_to_one_product,
    stale_writes_are_refused,
    concurrent_updates_of_one_version_let_one_win,
    brands_categories_and_attributes_keep_their_keys_unique,
    archiving_keeps_the_product_but_unlists_it,
    deliveries_are_claimed_once_and_unfinished_ones_come_due,
    a_redelivered_event_is_claimed_by_its_id,
    idempotency_keys_claim_answer_replay_and_expire,
    failed_deliveries_back_off_park_and_replay,
    the_outbox_pages_by_type_and_time,
    commits_with_events_fire_the_commit_hook,
    the_store_answers_its_health_checks,
    one_replica_at_a_time_publishes_and_its_position_is_kept,
);
