//! The webhook repository's contract, on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(webhooks: webhook_deliveries_are_queued_once_claimed_once_and_recorded);
