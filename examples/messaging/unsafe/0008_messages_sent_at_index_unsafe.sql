-- DELIBERATELY UNSAFE: a plain CREATE INDEX blocks every write to messages for the whole build.
-- `migrator lint` rejects it; ../sql/0008_messages_sent_at_index.sql is the safe version.
CREATE INDEX messages_sent_at_idx ON messages (sent_at);
