-- v0 -> v12: Latest revision

-- homeserver_session keeps the login of the service account per homeserver,
-- so that a restart reuses it instead of logging in again.
CREATE TABLE homeserver_session (
	homeserver   TEXT   PRIMARY KEY,
	user_id      TEXT   NOT NULL,
	device_id    TEXT   NOT NULL,
	access_token TEXT   NOT NULL,
	updated_at   BIGINT NOT NULL
);

-- service_run records every start and stop of `serve`.
CREATE TABLE service_run (
	-- only: postgres
	id         BIGSERIAL PRIMARY KEY,
	-- only: sqlite (line commented)
--	id         INTEGER   PRIMARY KEY,
	started_at BIGINT NOT NULL,
	stopped_at BIGINT,
	version    TEXT   NOT NULL
);

-- managed_account records every account provisioning created, so that a
-- person gone from the directory is found and locked out.
CREATE TABLE managed_account (
	user_id      TEXT   PRIMARY KEY,
	person       TEXT   NOT NULL,
	tenant       TEXT   NOT NULL,
	homeserver   TEXT   NOT NULL,
	status       TEXT   NOT NULL,
	display_name TEXT   NOT NULL,
	updated_at   BIGINT NOT NULL
);

-- managed_room maps the stable key of a managed room to its room ID and
-- keeps the state provisioning applied last, to tell drift made by hand
-- from a changed configuration. The rooms also carry the key in a state
-- event, so a lost database is rebuilt from the homeservers.
CREATE TABLE managed_room (
	room_key   TEXT   PRIMARY KEY,
	homeserver TEXT   NOT NULL,
	room_id    TEXT   NOT NULL,
	applied    TEXT   NOT NULL,
	updated_at BIGINT NOT NULL
);

-- federation_list keeps the last federation list serve accepted (signed,
-- verified, not older than the one before), so that a bad or expired list
-- after a restart still finds the last good one. One row.
CREATE TABLE federation_list (
	id          INTEGER PRIMARY KEY,
	version     BIGINT  NOT NULL,
	document    TEXT    NOT NULL,
	accepted_at BIGINT  NOT NULL
);

-- bot_secret keeps the secrets of the bot accounts: their password,
-- session, the pickle key of their crypto store and the recovery key of
-- their cross-signing keys.
CREATE TABLE bot_secret (
	bot   TEXT NOT NULL,
	name  TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (bot, name)
);

-- bot_event records the events the bots handled, so that a restart or a
-- repeated sync never runs a command twice.
CREATE TABLE bot_event (
	bot        TEXT   NOT NULL,
	event_id   TEXT   NOT NULL,
	handled_at BIGINT NOT NULL,
	PRIMARY KEY (bot, event_id)
);

-- audit_log is the append-only trail of the admin bot: every command, who
-- sent it from which device, the decision and the resulting changes.
CREATE TABLE audit_log (
	-- only: postgres
	id       BIGSERIAL PRIMARY KEY,
	-- only: sqlite (line commented)
--	id       INTEGER   PRIMARY KEY,
	at       BIGINT NOT NULL,
	sender   TEXT   NOT NULL,
	device   TEXT   NOT NULL,
	room     TEXT   NOT NULL,
	event_id TEXT   NOT NULL,
	command  TEXT   NOT NULL,
	input    TEXT   NOT NULL,
	tenant   TEXT   NOT NULL,
	decision TEXT   NOT NULL,
	detail   TEXT   NOT NULL,
	ref      BIGINT,
	-- the hash chain (v10): SHA-256 over the entry's fields and prev_hash;
	-- empty for entries written before it
	prev_hash TEXT  NOT NULL DEFAULT '',
	hash      TEXT  NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_sender ON audit_log (sender);
CREATE INDEX audit_log_tenant ON audit_log (tenant);

-- audit_head holds the last entry of the audit trail's hash chain, so that
-- dropping entries at the end is seen too.
CREATE TABLE audit_head (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	last_id BIGINT  NOT NULL,
	hash    TEXT    NOT NULL
);
INSERT INTO audit_head (id, last_id, hash) VALUES (1, 0, '');

-- override holds the changes made through the admin bot, applied on top of
-- the configuration and the directory by every plan.
CREATE TABLE override (
	kind       TEXT   NOT NULL,
	key        TEXT   NOT NULL,
	value      TEXT   NOT NULL,
	created_by TEXT   NOT NULL,
	created_at BIGINT NOT NULL,
	audit_id   BIGINT,
	PRIMARY KEY (kind, key)
);

-- pending_command holds commands that wait for a confirmation (a reaction
-- to the bot's prompt), so that a restart in between loses nothing.
CREATE TABLE pending_command (
	prompt_id  TEXT   PRIMARY KEY,
	bot        TEXT   NOT NULL,
	room       TEXT   NOT NULL,
	event_id   TEXT   NOT NULL,
	sender     TEXT   NOT NULL,
	command    TEXT   NOT NULL,
	four_eyes  BOOLEAN NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	audit_id   BIGINT NOT NULL,
	state      TEXT   NOT NULL
);

-- onboarding_ack records every acknowledgement of the data-protection
-- instruction: who, which version, when, the event and the hash of the text.
CREATE TABLE onboarding_ack (
	person          TEXT   NOT NULL,
	user_id         TEXT   NOT NULL,
	version         TEXT   NOT NULL,
	acknowledged_at BIGINT NOT NULL,
	event_id        TEXT   NOT NULL,
	text_hash       TEXT   NOT NULL,
	PRIMARY KEY (person, version)
);

-- onboarding_dm is the onboarding bot's direct chat with each person and
-- what it sent there last.
CREATE TABLE onboarding_dm (
	person       TEXT   PRIMARY KEY,
	user_id      TEXT   NOT NULL,
	bot          TEXT   NOT NULL,
	room_id      TEXT   NOT NULL,
	version      TEXT   NOT NULL,
	event_id     TEXT   NOT NULL,
	sent_at      BIGINT NOT NULL,
	reminded_at  BIGINT NOT NULL
);

-- onboarding_version records when each version of the instruction was
-- first seen, from which its grace period runs.
CREATE TABLE onboarding_version (
	version    TEXT   PRIMARY KEY,
	first_seen BIGINT NOT NULL
);

-- handover keeps the power a leaver handed over: the successor holds it in
-- the room from then on.
CREATE TABLE handover (
	room_key  TEXT    NOT NULL,
	successor TEXT    NOT NULL,
	level     INTEGER NOT NULL,
	leaver    TEXT    NOT NULL,
	at        BIGINT  NOT NULL,
	PRIMARY KEY (room_key, successor)
);

-- offboarding_report has one entry per person who left: rooms, hand-overs,
-- deactivation, time.
CREATE TABLE offboarding_report (
	-- only: postgres
	id        BIGSERIAL PRIMARY KEY,
	-- only: sqlite (line commented)
--	id        INTEGER   PRIMARY KEY,
	person    TEXT   NOT NULL,
	user_id   TEXT   NOT NULL,
	tenant    TEXT   NOT NULL,
	at        BIGINT NOT NULL,
	detail    TEXT   NOT NULL
);

-- external_guest holds the accounts of people outside the administration.
CREATE TABLE external_guest (
	user_id      TEXT   PRIMARY KEY,
	name         TEXT   NOT NULL,
	organisation TEXT   NOT NULL,
	email        TEXT   NOT NULL,
	tenant       TEXT   NOT NULL,
	rooms        TEXT   NOT NULL,
	invited_by   TEXT   NOT NULL,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	status       TEXT   NOT NULL
);

-- person_deputy remembers each person's deputy from the directory, so that a
-- person gone from it still hands their power to the right successor.
CREATE TABLE person_deputy (
	person TEXT PRIMARY KEY,
	tenant TEXT NOT NULL,
	deputy TEXT NOT NULL
);

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

-- The audit trail is append-only like the archive (v10).
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

-- legal_hold records every legal hold: while it is not lifted, no message
-- it covers is deleted (scope room: the messages of the room with the key
-- target; scope person: the messages the user target sent). Holds are
-- lifted, never deleted.
CREATE TABLE legal_hold (
	-- only: postgres
	id        BIGSERIAL PRIMARY KEY,
	-- only: sqlite (line commented)
--	id        INTEGER   PRIMARY KEY,
	scope     TEXT   NOT NULL CHECK (scope IN ('room', 'person')),
	target    TEXT   NOT NULL,
	reason    TEXT   NOT NULL,
	set_by    TEXT   NOT NULL,
	set_at    BIGINT NOT NULL,
	lifted_by TEXT,
	lifted_at BIGINT,
	-- the tenant whose management room set the hold, '' for the Land
	-- admin room (v11)
	set_scope TEXT   NOT NULL DEFAULT ''
);

-- deletion_log records every message deleted under a retention policy:
-- which, whose, when it was sent, under which policy and how. It never
-- holds the content of a message.
CREATE TABLE deletion_log (
	-- only: postgres
	id       BIGSERIAL PRIMARY KEY,
	-- only: sqlite (line commented)
--	id       INTEGER   PRIMARY KEY,
	at       BIGINT NOT NULL,
	room_key TEXT   NOT NULL,
	room_id  TEXT   NOT NULL,
	event_id TEXT   NOT NULL,
	sender   TEXT   NOT NULL,
	sent_at  BIGINT NOT NULL,
	policy   TEXT   NOT NULL,
	method   TEXT   NOT NULL CHECK (method IN ('redact', 'purge'))
);
CREATE INDEX deletion_log_room_key ON deletion_log (room_key);
CREATE INDEX deletion_log_sender ON deletion_log (sender);
CREATE INDEX deletion_log_at ON deletion_log (at);

-- record_mark records every mark of a message for filing (a reaction 📁 or
-- a reply "!akte AKTENZEICHEN"): while filed_seq is NULL the message is
-- marked but not filed, and retention keeps it. case_ref is '' while the
-- case reference is unknown (a 📁 in a room without one).
CREATE TABLE record_mark (
	room_id    TEXT   NOT NULL,
	mark_event TEXT   NOT NULL,
	target     TEXT   NOT NULL,
	case_ref   TEXT   NOT NULL,
	marked_by  TEXT   NOT NULL,
	kind       TEXT   NOT NULL CHECK (kind IN ('reaction', 'reply')),
	marked_at  BIGINT NOT NULL,
	filed_seq  BIGINT,
	problem    TEXT   NOT NULL DEFAULT '',
	-- v12: when the admins were told it is still unfiled, and who cleared
	-- it (it no longer keeps its message)
	reported_at BIGINT,
	cleared_by  TEXT   NOT NULL DEFAULT '',
	cleared_at  BIGINT,
	PRIMARY KEY (room_id, mark_event)
);
CREATE INDEX record_mark_target ON record_mark (room_id, target);

CREATE UNIQUE INDEX deletion_log_event ON deletion_log (room_id, event_id);

-- bridge_inbox keeps every mail the bridge's SMTP server accepted for a
-- room until it is posted there: a mail is accepted only once it is here,
-- and posted once (a Message-ID is kept once per room).
CREATE TABLE bridge_inbox (
	room        TEXT   NOT NULL,
	message_id  TEXT   NOT NULL,
	-- only: postgres
	raw         BYTEA  NOT NULL,
	-- only: sqlite (line commented)
--	raw         BLOB   NOT NULL,
	received_at BIGINT NOT NULL,
	posted_at   BIGINT,
	PRIMARY KEY (room, message_id)
);

-- bridge_outbox records the Matrix events mailed, so that an event the
-- homeserver delivers again is not mailed again.
CREATE TABLE bridge_outbox (
	event_id   TEXT   PRIMARY KEY,
	room       TEXT   NOT NULL,
	message_id TEXT   NOT NULL,
	mailed_at  BIGINT NOT NULL
);
