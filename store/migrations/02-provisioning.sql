-- v1 -> v2: Provisioning: managed accounts and rooms

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
