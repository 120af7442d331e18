-- v10 -> v11: Legal holds remember the scope that set them

-- set_scope is the tenant whose management room set the hold, '' for the
-- Land admin room (and for holds set before this version: only Land admins
-- lift them).
ALTER TABLE legal_hold ADD COLUMN set_scope TEXT NOT NULL DEFAULT '';
