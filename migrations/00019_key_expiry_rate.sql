-- +goose Up
-- API keys may expire (expires_at; NULL: never) and carry their own request rate
-- (rate_limit, requests per second for the API's per-key token bucket; NULL: the server's
-- ZHIKU_RATE_LIMIT; 0: unlimited). An expired key is kept, like a revoked one, so the API
-- can say "expired" rather than "unknown" and the audit log's targets stay resolvable.
ALTER TABLE api_keys
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN rate_limit double precision CHECK (rate_limit >= 0 AND rate_limit <= 1000000);

-- +goose Down
ALTER TABLE api_keys DROP COLUMN rate_limit, DROP COLUMN expires_at;
