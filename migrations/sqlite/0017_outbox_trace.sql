-- The W3C traceparent of what caused each event (a request, or another event being handled),
-- carried to the broker's messages so that one checkout is one trace across consumers.
ALTER TABLE outbox ADD COLUMN trace TEXT;
