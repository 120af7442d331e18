-- v3 -> v4: The admin bot: secrets, handled events, audit trail, overrides, pending commands

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
	ref      BIGINT
);
CREATE INDEX audit_log_sender ON audit_log (sender);
CREATE INDEX audit_log_tenant ON audit_log (tenant);

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
