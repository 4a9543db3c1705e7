-- User management: an administrator disables an account instead of
-- deleting it, so who did what stays attributable. NULL: active.

ALTER TABLE users ADD COLUMN disabled_at BIGINT;
