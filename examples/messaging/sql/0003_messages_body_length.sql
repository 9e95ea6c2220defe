-- filled afterwards by `migrator backfill` (see ../backfill)
ALTER TABLE messages ADD COLUMN body_length integer;
