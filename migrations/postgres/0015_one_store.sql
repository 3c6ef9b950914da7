-- One store for both databases (SQLite's 0015 renames its tables to these names and stores its
-- ids as this database already does): nothing changes here. Kept so that both databases
-- number their migrations alike.
SELECT 1;
