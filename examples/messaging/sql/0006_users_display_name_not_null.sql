-- migrator:no-transaction
-- NOT NULL the safe way: CHECK NOT VALID, VALIDATE, SET NOT NULL, drop the CHECK
BEGIN;
-- migrator:ignore unbatched-dml -- demo-sized table
UPDATE users SET display_name = email WHERE display_name IS NULL;
ALTER TABLE users ADD CONSTRAINT users_display_name_not_null CHECK (display_name IS NOT NULL) NOT VALID;
COMMIT;
BEGIN;
ALTER TABLE users VALIDATE CONSTRAINT users_display_name_not_null;
COMMIT;
BEGIN;
ALTER TABLE users ALTER COLUMN display_name SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_display_name_not_null;
COMMIT;
