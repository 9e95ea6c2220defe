-- a nullable column: instant
ALTER TABLE users ADD COLUMN display_name text;
