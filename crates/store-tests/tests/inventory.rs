//! Runs the inventory store contract on SQLite and on PostgreSQL with the same test code.

rouge_store_tests::on_both_stores!(
    inventory:
    reservations_take_the_soonest_sellable_expiry_and_the_ledger_agrees,
    concurrent_reservations_never_oversell,
    expired_reservations_are_released,
    adjustments_transfers_and_quarantine_keep_stock_whole,
    retries_hold_once_and_cancelling_before_commit_gives_stock_back,
    returns_come_back_into_their_lots_or_quarantine,
);
