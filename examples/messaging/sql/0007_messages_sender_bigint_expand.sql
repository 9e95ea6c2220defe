-- int to bigint, expand/contract: the new column now; the application writes both,
-- `migrator backfill` copies old rows, a later release switches reads and drops sender_id
ALTER TABLE messages ADD COLUMN sender_id_big bigint;
