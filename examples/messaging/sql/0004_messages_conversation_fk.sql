-- migrator:no-transaction
-- a foreign key: NOT VALID now, validated in its own transaction
BEGIN;
-- migrator:ignore fk-needs-index -- 0005 adds the index
ALTER TABLE messages ADD CONSTRAINT messages_conversation_id_fkey
    FOREIGN KEY (conversation_id) REFERENCES conversations (id) NOT VALID;
COMMIT;
BEGIN;
ALTER TABLE messages VALIDATE CONSTRAINT messages_conversation_id_fkey;
COMMIT;
