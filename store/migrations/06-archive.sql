-- v5 -> v6: The records archive (Aktenführung): entries in a hash chain, attachments, head

-- archive_head is the head of the records archive's hash chain: the
-- sequence number and hash of its last entry (0 and '' while it is empty).
-- One row; every filing locks it, so that the chain stays linear.
CREATE TABLE archive_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  BIGINT  NOT NULL,
	hash TEXT    NOT NULL
);
INSERT INTO archive_head (id, seq, hash) VALUES (1, 0, '');

-- archive_entry holds the messages filed for a case, one row per message
-- and case. Each row carries the hash of the row before (prev_hash) and its
-- own hash over all its fields and its attachments' hashes (package
-- records). formatted_body is '' when the message had no HTML.
CREATE TABLE archive_entry (
	seq            BIGINT PRIMARY KEY,
	filed_at       BIGINT NOT NULL,
	case_ref       TEXT   NOT NULL,
	room_key       TEXT   NOT NULL,
	room_id        TEXT   NOT NULL,
	room_name      TEXT   NOT NULL,
	event_id       TEXT   NOT NULL,
	sender         TEXT   NOT NULL,
	sender_name    TEXT   NOT NULL,
	sent_at        BIGINT NOT NULL,
	msgtype        TEXT   NOT NULL,
	body           TEXT   NOT NULL,
	formatted_body TEXT   NOT NULL,
	filed_by       TEXT   NOT NULL,
	mark_kind      TEXT   NOT NULL,
	mark_event     TEXT   NOT NULL,
	prev_hash      TEXT   NOT NULL,
	hash           TEXT   NOT NULL,
	UNIQUE (room_id, event_id, case_ref)
);
CREATE INDEX archive_entry_case ON archive_entry (case_ref);
CREATE INDEX archive_entry_room_key ON archive_entry (room_key);

-- archive_attachment holds the files of the filed messages, in the order
-- they came (position from 0), with their bytes.
CREATE TABLE archive_attachment (
	seq       BIGINT  NOT NULL REFERENCES archive_entry (seq),
	position  INTEGER NOT NULL,
	name      TEXT    NOT NULL,
	mime_type TEXT    NOT NULL,
	size      BIGINT  NOT NULL,
	sha256    TEXT    NOT NULL,
	-- only: postgres
	data      BYTEA   NOT NULL,
	-- only: sqlite (line commented)
--	data      BLOB    NOT NULL,
	PRIMARY KEY (seq, position)
);

-- The archive is append-only: updates and deletions are refused. (Whoever
-- controls the database can drop these triggers; the hash chain then still
-- shows what was changed.)
-- only: sqlite until "end only"
CREATE TRIGGER archive_entry_no_update BEFORE UPDATE ON archive_entry
BEGIN SELECT RAISE(ABORT, 'archive_entry is append-only'); END;
CREATE TRIGGER archive_entry_no_delete BEFORE DELETE ON archive_entry
BEGIN SELECT RAISE(ABORT, 'archive_entry is append-only'); END;
CREATE TRIGGER archive_attachment_no_update BEFORE UPDATE ON archive_attachment
BEGIN SELECT RAISE(ABORT, 'archive_attachment is append-only'); END;
CREATE TRIGGER archive_attachment_no_delete BEFORE DELETE ON archive_attachment
BEGIN SELECT RAISE(ABORT, 'archive_attachment is append-only'); END;
-- end only sqlite
-- only: postgres until "end only"
CREATE OR REPLACE FUNCTION archive_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER archive_entry_append_only BEFORE UPDATE OR DELETE ON archive_entry
	FOR EACH ROW EXECUTE FUNCTION archive_append_only();
CREATE TRIGGER archive_entry_no_truncate BEFORE TRUNCATE ON archive_entry
	FOR EACH STATEMENT EXECUTE FUNCTION archive_append_only();
CREATE TRIGGER archive_attachment_append_only BEFORE UPDATE OR DELETE ON archive_attachment
	FOR EACH ROW EXECUTE FUNCTION archive_append_only();
CREATE TRIGGER archive_attachment_no_truncate BEFORE TRUNCATE ON archive_attachment
	FOR EACH STATEMENT EXECUTE FUNCTION archive_append_only();
-- end only postgres
