import compileall
import os
import sys
from pathlib import Path

import pytest

pytest_plugins = ["migrator.testing"]
ROOT = Path(__file__).resolve().parent.parent


# Each worker starts clusters of its own (a primary and its replica per session): past a few
# workers they only contend for the same cores and memory.
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (the suite's default, pyproject.toml): one worker per core, at most MAX_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def pytest_configure(config):
    """With PYTHONDONTWRITEBYTECODE set, each of the hundreds of interpreters the tests start
    (`python -m migrator ...`) would compile the project's modules again (~0.07 s of CPU each):
    compile them once. (Python still checks each .pyc against its source.)"""
    if sys.dont_write_bytecode:
        for package in ("migrator", "backfill", "lint_rules"):
            compileall.compile_dir(ROOT / package, quiet=1)


@pytest.fixture(autouse=True)
def _private_lint_cache(tmp_path_factory, monkeypatch):
    """Each test (and the commands it starts) gets its own lint result cache, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
