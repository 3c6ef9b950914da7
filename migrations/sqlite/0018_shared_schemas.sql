-- service: shared
-- PostgreSQL's 0018 moves the outbox and the audit trail into shared schemas; SQLite has one
-- namespace, so nothing changes here. Kept so that both databases number their migrations alike.
SELECT 1;
