-- v11 -> v12: Unfiled record marks expire: reported once, clearable

-- reported_at: when the tenant's admins were told that the mark is still
-- unfiled after records.unfiled_after; cleared_by/cleared_at: an admin
-- cleared the mark (it no longer keeps its message).
ALTER TABLE record_mark ADD COLUMN reported_at BIGINT;
ALTER TABLE record_mark ADD COLUMN cleared_by TEXT NOT NULL DEFAULT '';
ALTER TABLE record_mark ADD COLUMN cleared_at BIGINT;
