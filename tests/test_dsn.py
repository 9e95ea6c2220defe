import subprocess
import sys
from pathlib import Path

import pytest

from click.testing import CliRunner

from migrator.cli import main
from migrator.dsn import connect, describe_dsn, mask_password
from migrator.errors import UserError


@pytest.mark.parametrize("text, expected", [
    ("postgresql://app:s3cr3t@db:5432/prod", "postgresql://app:***@db:5432/prod"),
    ("connect postgres://u:p%40ss@h/d failed", "connect postgres://u:***@h/d failed"),
    ("host=db password=hunter2 user=app", "host=db password=*** user=app"),
    ("host=db password='a b' user=app", "host=db password=*** user=app"),
    ("postgresql://app@db/prod", "postgresql://app@db/prod"),
    # a URL of any scheme, however odd its password
    ("mysql://admin:S3cret@db/app", "mysql://admin:***@db/app"),
    ("postgresql+asyncpg://admin:S3cret@db/app", "postgresql+asyncpg://admin:***@db/app"),
    ("postgresql://admin:p@ss@db/app", "postgresql://admin:***@db/app"),
    ("see https://example.com/a:b", "see https://example.com/a:b"),
])
def test_passwords_are_masked(text, expected):
    assert mask_password(text) == expected


def test_describe_shows_no_secret():
    assert describe_dsn("postgresql://app:s3cr3t@db:6432/prod") == "db:6432/prod"


@pytest.mark.parametrize("arguments", [["apply", "{folder}"], ["plan", "{folder}"], ["backfill", "list"],
                                       ["lint", "{folder}"], ["trace", "{folder}"]])
def test_a_dsn_libpq_cannot_parse_is_one_line_saying_so_without_the_password(tmp_path, arguments):
    (tmp_path / "0001_t.sql").write_text("CREATE TABLE t (id bigint);\n")
    result = CliRunner().invoke(main, [*[a.format(folder=tmp_path) for a in arguments],
                                       "--dsn", "mysql://admin:S3cretPW@127.0.0.1:1/app"])
    assert result.exit_code in (1, 2) and isinstance(result.exception, SystemExit)  # an error, not a traceback
    assert "S3cretPW" not in result.output
    error = result.output.strip().splitlines()[-1]
    assert "not a PostgreSQL connection string" in error and "mysql://admin:***@" in error


def test_an_unterminated_quote_in_a_keyword_dsn_is_named_without_the_password():
    with pytest.raises(UserError) as raised:
        connect("host=127.0.0.1 password='S3cretPW", UserError)
    assert "S3cretPW" not in str(raised.value) and "unterminated quoted string" in str(raised.value)


@pytest.mark.parametrize("arguments, expected", [
    (["lint", "--pg-version", "9", "x.sql"], "Error: Invalid value for '--pg-version': 9 is not in the range 10<=x<=19 (see 'migrator lint --help')"),
    (["--bogus"], "Error: No such option '--bogus' (see 'migrator --help')"),
    (["backfill", "run"], "Error: Missing argument 'NAME' (see 'migrator backfill run --help')"),
    (["explain", "nosuch"], "Error: Invalid value for RULE_ID: unknown rule 'nosuch' (see `migrator rules`)"),
    (["lint", "x.sql", "--dsn", "postgresql://app:S3cretPW@127.0.0.1:1/x"],
     "Error: Invalid value for --dsn: cannot connect to 127.0.0.1:1/x: connection refused (see 'migrator lint --help')"),
])
def test_usage_errors_are_one_line_with_exit_status_2(arguments, expected):
    installed = Path(sys.executable).with_name("migrator")  # the command the README installs
    result = subprocess.run([str(installed), *arguments], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", expected + "\n")
