-- v4 -> v5: Staff lifecycle: onboarding, hand-overs, offboarding reports, external guests

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
