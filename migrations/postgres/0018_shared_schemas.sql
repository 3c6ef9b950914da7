-- service: shared
-- Services apart (`rouge serve --services …`): each service's role is granted its own schema
-- and the shared ones, which hold no domain data: `messaging` (the outbox every service writes
-- its events to, deliveries, relays), `gateway` (idempotency keys) and `audit` (the audit trail
-- every service's admin actions append to). The outbox was born in the catalogue's schema and
-- the trail in identity's; both move. Unqualified queries find them through the search path.
CREATE SCHEMA IF NOT EXISTS messaging;
CREATE SCHEMA IF NOT EXISTS audit;
ALTER TABLE catalog.outbox SET SCHEMA messaging;
ALTER TABLE identity.audit_log SET SCHEMA audit;
ALTER TABLE identity.audit_head SET SCHEMA audit;
