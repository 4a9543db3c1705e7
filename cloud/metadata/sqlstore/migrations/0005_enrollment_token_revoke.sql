-- Enrollment tokens can be revoked before they are used. NULL: not revoked.
-- A revoked token enrolls nothing; redeeming it fails like an unknown token.

ALTER TABLE enrollment_tokens ADD COLUMN revoked_at BIGINT;
