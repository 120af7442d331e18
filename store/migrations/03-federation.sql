-- v2 -> v3: The last accepted federation list

-- federation_list keeps the last federation list serve accepted (signed,
-- verified, not older than the one before), so that a bad or expired list
-- after a restart still finds the last good one. One row.
CREATE TABLE federation_list (
	id          INTEGER PRIMARY KEY,
	version     BIGINT  NOT NULL,
	document    TEXT    NOT NULL,
	accepted_at BIGINT  NOT NULL
);
