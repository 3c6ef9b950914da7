//! The behaviour repository's contract, on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(
    behaviour: behaviour_is_kept_once_read_in_pages_erased_and_purged,
    impressions_are_counted_and_attributed,
    a_visitors_events_become_hers_when_she_logs_in
);
