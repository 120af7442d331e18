-- v0 -> v1: Latest revision

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
