-- The customer's phone and address book, sealed like her other personal fields.
ALTER TABLE identity_customers ADD COLUMN contact BLOB;
