-- migrator:no-transaction
-- the safe version of ../unsafe/0008_messages_sent_at_index_unsafe.sql
CREATE INDEX CONCURRENTLY messages_sent_at_idx ON messages (sent_at);
