-- +goose Up
-- Admin UI sign-in sessions. Only a SHA-256 of the session id is stored (ids are 256-bit
-- random, like API keys, so a slow hash adds nothing). A session belongs to a user, to an
-- API key, or (neither) to the bootstrap ZHIKU_ADMIN_KEY, whose hash is kept so a changed
-- admin key ends its sessions. Role and knowledge bases are read from the user or key on
-- every request: disabling a user or revoking a key ends its sessions at once.
CREATE TABLE sessions (
    id_hash        bytea PRIMARY KEY,
    tenant_id      bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id        bigint REFERENCES users(id) ON DELETE CASCADE,
    key_id         bigint REFERENCES api_keys(id) ON DELETE CASCADE,
    admin_key_hash bytea,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    CHECK (num_nonnulls(user_id, key_id, admin_key_hash) = 1)
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
