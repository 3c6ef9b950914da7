//! The replenishment repository's contract, on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(replenishment: reminders_are_added_once_superseded_claimed_and_sent_once);
