-- The customer's phone and address book, sealed like her other personal fields.
ALTER TABLE identity.customers ADD COLUMN contact BYTEA;
