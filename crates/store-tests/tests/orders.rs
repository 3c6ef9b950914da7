//! Runs the orders store contract on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(
    orders:
    carts_are_versioned_and_leased_to_one_attempt_at_a_time,
    orders_are_placed_once_appended_in_turn_and_listed,
    sealed_contacts_are_rewrapped_and_forgotten,
);
