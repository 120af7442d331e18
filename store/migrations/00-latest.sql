-- v0 -> v3: Latest revision

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
