-- migrator:no-transaction
CREATE INDEX CONCURRENTLY messages_conversation_id_idx ON messages (conversation_id, sent_at);
