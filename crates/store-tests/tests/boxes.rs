//! The beauty box repository's contract, on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(boxes: a_month_is_set_up_until_locked_and_its_boxes_kept);
