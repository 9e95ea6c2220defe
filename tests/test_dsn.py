import pytest

from migrator.dsn import describe_dsn, mask_password


@pytest.mark.parametrize("text, expected", [
    ("postgresql://app:s3cr3t@db:5432/prod", "postgresql://app:***@db:5432/prod"),
    ("connect postgres://u:p%40ss@h/d failed", "connect postgres://u:***@h/d failed"),
    ("host=db password=hunter2 user=app", "host=db password=*** user=app"),
    ("host=db password='a b' user=app", "host=db password=*** user=app"),
    ("postgresql://app@db/prod", "postgresql://app@db/prod"),
])
def test_passwords_are_masked(text, expected):
    assert mask_password(text) == expected


def test_describe_shows_no_secret():
    assert describe_dsn("postgresql://app:s3cr3t@db:6432/prod") == "db:6432/prod"
