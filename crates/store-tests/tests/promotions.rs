//! The promotions repository's contract, on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(
    promotions: promotions_and_codes_round_trip,
    holds_take_every_budget_or_none_and_give_back_once,
    concurrent_holds_never_pass_a_cap,
);
