-- Consumers' claims now live in their delivery records (0010): the inbox is gone.
DROP TABLE catalog.inbox;
