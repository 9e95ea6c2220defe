import pytest

pytest_plugins = ["migrator.testing"]


@pytest.fixture(autouse=True)
def _private_lint_cache(tmp_path_factory, monkeypatch):
    """Each test (and the commands it starts) gets its own lint result cache, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
