-- v7 -> v8: Records: marks for filing; one deletion log entry per message

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
	PRIMARY KEY (room_id, mark_event)
);
CREATE INDEX record_mark_target ON record_mark (room_id, target);

CREATE UNIQUE INDEX deletion_log_event ON deletion_log (room_id, event_id);
