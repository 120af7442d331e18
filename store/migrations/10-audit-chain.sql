-- v9 -> v10: Audit trail append-only, in a hash chain

-- Every entry of the audit trail carries the hash of the one before it and
-- its own (SHA-256 over its fields and prev_hash); audit_head holds the last
-- one, so that dropping entries at the end is seen too. Entries written
-- before this version have empty hashes: they come before the chain.
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';

CREATE TABLE audit_head (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	last_id BIGINT  NOT NULL,
	hash    TEXT    NOT NULL
);
INSERT INTO audit_head (id, last_id, hash) VALUES (1, 0, '');

-- The trail is append-only: updates and deletions are refused. (Whoever
-- controls the database can drop these triggers; the hash chain then still
-- shows what was changed.)
-- only: sqlite until "end only"
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
-- end only sqlite
-- only: postgres until "end only"
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION archive_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION archive_append_only();
-- end only postgres
