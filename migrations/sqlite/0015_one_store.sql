-- One store for both databases. Tables take the names PostgreSQL gives them (there inside a
-- schema per service, found through the search path), and every id is stored the one way
-- the inventory and orders tables already stored theirs: 16 bytes, a BLOB. (SQLite keeps a
-- BLOB as it is whatever type the column was declared with, so the columns stay as made.)
-- Parents and children change in one transaction; the keys are checked at its commit.
PRAGMA defer_foreign_keys = ON;

ALTER TABLE catalog_products RENAME TO products;
ALTER TABLE catalog_skus RENAME TO skus;
ALTER TABLE catalog_brands RENAME TO brands;
ALTER TABLE catalog_categories RENAME TO categories;
ALTER TABLE catalog_attributes RENAME TO attributes;
ALTER TABLE identity_customers RENAME TO customers;
ALTER TABLE identity_refresh_tokens RENAME TO refresh_tokens;
ALTER TABLE identity_links RENAME TO links;
ALTER TABLE identity_login_failures RENAME TO login_failures;
ALTER TABLE identity_staff RENAME TO staff;
ALTER TABLE identity_roles RENAME TO roles;
ALTER TABLE identity_api_keys RENAME TO api_keys;

UPDATE products SET id = unhex(replace(id, '-', '')) WHERE typeof(id) = 'text';
UPDATE skus SET product_id = unhex(replace(product_id, '-', '')) WHERE typeof(product_id) = 'text';
UPDATE brands SET id = unhex(replace(id, '-', '')) WHERE typeof(id) = 'text';
UPDATE categories SET id = unhex(replace(id, '-', '')) WHERE typeof(id) = 'text';
UPDATE attributes SET id = unhex(replace(id, '-', '')) WHERE typeof(id) = 'text';
UPDATE outbox SET id = unhex(replace(id, '-', '')), aggregate_id = unhex(replace(aggregate_id, '-', ''))
    WHERE typeof(id) = 'text';
UPDATE customers SET id = unhex(replace(id, '-', '')) WHERE typeof(id) = 'text';
UPDATE refresh_tokens SET family = unhex(replace(family, '-', '')), customer_id = unhex(replace(customer_id, '-', ''))
    WHERE typeof(family) = 'text';
UPDATE links SET customer_id = unhex(replace(customer_id, '-', '')) WHERE typeof(customer_id) = 'text';
UPDATE staff SET id = unhex(replace(id, '-', '')), role_id = unhex(replace(role_id, '-', ''))
    WHERE typeof(id) = 'text';
UPDATE roles SET id = unhex(replace(id, '-', '')) WHERE typeof(id) = 'text';
UPDATE api_keys SET id = unhex(replace(id, '-', '')), created_by = unhex(replace(created_by, '-', ''))
    WHERE typeof(id) = 'text';
UPDATE audit_log SET id = unhex(replace(id, '-', '')) WHERE typeof(id) = 'text';
