//! The reviews repository's contract, on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(
    reviews: one_review_per_order_line_and_filters,
    votes_and_reports_count_once_and_erasure_anonymises,
);
