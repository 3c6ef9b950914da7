//! The subscriptions repository's contract, on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(subscriptions: subscriptions_round_trip_claim_once_and_renew_each_period_once);
