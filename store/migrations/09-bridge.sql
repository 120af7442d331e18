-- v8 -> v9: School bridge: mail received and mail sent, once each

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
