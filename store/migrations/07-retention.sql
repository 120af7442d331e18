-- v6 -> v7: Retention: legal holds and the deletion log

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
	lifted_at BIGINT
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
