"""Migration files as generators and tools write them: Prisma, goose, dbmate, sql-migrate, golang-migrate, diesel ..."""

import json

import pytest
from click.testing import CliRunner

from lint_rules._testing import lint, rules_hit
from migrator.cli import main

PRISMA = '''-- CreateEnum
CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');

-- CreateTable
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'USER',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

-- AddForeignKey
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
'''

GOOSE = '''-- +goose Up
-- +goose StatementBegin
ALTER TABLE users ADD COLUMN nickname text;
-- +goose StatementEnd

-- +goose Down
DROP TABLE users;
'''


def test_prisma_migration_is_fully_understood():
    findings = lint(PRISMA)
    rules = {f.rule for f in findings}
    assert "unanalyzable-statement" not in rules
    assert "add-foreign-key" in rules  # Post existed before: validated FK
    assert "require-concurrent-index" not in rules  # "User" is created in this migration


def test_goose_down_section_is_not_linted():
    assert "drop-table" not in rules_hit(GOOSE)
    assert "require-lock-timeout" in rules_hit(GOOSE)


def test_goose_and_dbmate_no_transaction_markers():
    concurrently = "CREATE INDEX CONCURRENTLY i ON t (a);\n"
    assert "concurrently-in-transaction" in rules_hit("-- +goose Up\n" + concurrently)
    assert "concurrently-in-transaction" not in rules_hit("-- +goose NO TRANSACTION\n-- +goose Up\n" + concurrently)
    assert "concurrently-in-transaction" not in rules_hit("-- migrate:up transaction:false\n" + concurrently)
    assert "drop-table" not in rules_hit("-- migrate:up\nSELECT 1;\n-- migrate:down\nDROP TABLE t;\n")


def test_down_migrations_are_left_out_of_directories(tmp_path):
    (tmp_path / "000001_add.up.sql").write_text("ALTER TABLE t DROP COLUMN a;\n")
    (tmp_path / "000001_add.down.sql").write_text("DROP TABLE t;\n")
    diesel = tmp_path / "2024-01-01-000000_add"
    diesel.mkdir()
    (diesel / "up.sql").write_text("SELECT 1;\n")
    (diesel / "down.sql").write_text("DROP TABLE t;\n")
    result = CliRunner().invoke(main, ["lint", "--format", "json", str(tmp_path)])
    assert {f["path"].rsplit("/", 1)[-1] for f in json.loads(result.stdout)} == {"000001_add.up.sql"}


GOOSE_BLOCKS = '''-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION touch() RETURNS trigger AS $$
BEGIN
  RETURN NEW;
END;
$$ LANGUAGE plpgsql
-- +goose StatementEnd
-- +goose StatementBegin
ALTER TABLE users ADD COLUMN nickname text
-- +goose StatementEnd

-- +goose Down
DROP TABLE users;
'''


def test_goose_blocks_without_semicolons_end_at_their_markers():
    findings = lint(GOOSE_BLOCKS)
    assert {(f.line, f.rule) for f in findings} == {(10, "require-lock-timeout"), (10, "require-statement-timeout")}


# Each tool's way of keeping the down section in the same file (only the up section runs on deploy): the last up
# statement may lack its semicolon
DOWN_SECTIONS = {
    "sql-migrate": "-- +migrate Up\nALTER TABLE users ADD COLUMN nickname text\n-- +migrate Down\nDROP TABLE users;\n",
    "node-pg-migrate": "-- Up Migration\nALTER TABLE users ADD COLUMN nickname text;\n-- Down Migration\nDROP TABLE users;\n",
    # as dataqueue 1.24.0 writes them: node-pg-migrate reads the marker's first words only
    "node-pg-migrate, said why": "-- Up Migration: add it\nALTER TABLE users ADD COLUMN nickname text;\n"
                                 "-- Down Migration: remove it\nDROP TABLE users;\n",
    "tern": "ALTER TABLE users ADD COLUMN nickname text\n---- create above / drop below ----\nDROP TABLE users;\n",
    "shmig": "-- ==== UP ====\nBEGIN;\nALTER TABLE users ADD COLUMN nickname text;\nCOMMIT;\n"
             "-- ==== DOWN ====\nBEGIN;\nDROP TABLE users;\nCOMMIT;\n",
}


@pytest.mark.parametrize("tool", sorted(DOWN_SECTIONS))
def test_other_tools_down_sections_are_not_linted(tool):
    rules = rules_hit(DOWN_SECTIONS[tool])
    assert "drop-table" not in rules and "syntax-error" not in rules
    assert "require-lock-timeout" in rules


def test_sql_migrate_blocks_and_its_no_transaction_marker():
    concurrently = "CREATE INDEX CONCURRENTLY i ON t (a);\n"
    assert "concurrently-in-transaction" in rules_hit("-- +migrate Up\n" + concurrently)
    assert "concurrently-in-transaction" not in rules_hit("-- +migrate Up notransaction\n" + concurrently)
    blocks = GOOSE_BLOCKS.replace("+goose Up", "+migrate Up").replace("+goose", "+migrate")
    assert {(f.line, f.rule) for f in lint(blocks)} == {(10, "require-lock-timeout"), (10, "require-statement-timeout")}


def test_other_tools_undo_files_are_left_out_of_directories(tmp_path):
    (tmp_path / "001.do.sql").write_text("ALTER TABLE t DROP COLUMN a;\n")
    for name in ("001.undo.sql", "0001_add.rollback.sql", "U2__add.sql"):  # Postgrator, yoyo, Flyway undo
        (tmp_path / name).write_text("DROP TABLE t;\n")
    result = CliRunner().invoke(main, ["lint", "--format", "json", str(tmp_path)])
    assert {f["path"].rsplit("/", 1)[-1] for f in json.loads(result.stdout)} == {"001.do.sql"}
