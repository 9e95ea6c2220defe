"""A cache of lint results, keyed on everything that decides them: the file's bytes, migrator's code
and version, the configuration (rules, PostgreSQL version, timeouts) and the file's runner.

An unchanged re-run over a directory reads its results back without loading the linter (sqlglot
and the rules), which is most of the time of a run. Entries live in the user's cache directory
(`$XDG_CACHE_HOME/migrator/lint`, else `~/.cache/migrator/lint`), one JSON pack per code and
configuration, replaced atomically; `migrator lint --no-cache` neither reads nor writes them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path

from migrator import __version__
from migrator.config import Config
from migrator.findings import FileResult, Finding
from migrator.runners import extension_search_path, file_transaction


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "migrator" / "lint"


@functools.cache
def code_fingerprint() -> str:
    """migrator's version, and the size and modification time of every source file of the linter and of
    sqlglot's version file: a changed rule or parser makes new keys."""
    parts = [__version__]
    for package in ("migrator", "lint_rules"):
        spec = importlib.util.find_spec(package)
        for folder in spec.submodule_search_locations or ():
            for file in sorted(Path(folder).glob("*.py")):
                stat = file.stat()
                parts.append(f"{package}/{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    sqlglot = importlib.util.find_spec("sqlglot")
    for folder in sqlglot.submodule_search_locations or ():
        version = Path(folder) / "_version.py"
        if version.is_file():
            parts.append(version.read_text())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class LintCache:
    """Results of earlier runs with the same code and configuration, by file content and runner.

    One pack file per code and configuration holds every entry: read once, written once at the
    end of a run (merged with what is on disk, replaced atomically)."""

    MAX_ENTRIES = 100_000  # past this the pack starts over: old contents of files pile up otherwise

    def __init__(self, config: Config, folder: Path | None = None):
        self.config = config
        settings = (config.pg_version, config.max_timeout_ms, sorted(config.select) if config.select is not None else None,
                    sorted(config.ignore), config.transaction, config.runner, config.max_file_size)
        self.prefix = json.dumps([code_fingerprint(), settings]).encode()
        self.pack = (folder or cache_dir()) / f"{hashlib.sha256(self.prefix).hexdigest()[:32]}.json"
        self.keys: dict[Path, str] = {}
        self.fresh: dict[str, dict] = {}
        self._entries: dict | None = None

    def _read_pack(self) -> dict:
        try:
            entries = json.loads(self.pack.read_text())
        except (OSError, ValueError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def get(self, path: Path, display: str) -> FileResult | None:
        """The cached result of a SQL file as it is now, or None (then lint it and store())."""
        if path.suffix == ".py":
            return None  # Alembic revisions render through their project: not keyed by their own bytes
        try:
            if path.stat().st_size > self.config.max_file_size:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        text = data.decode("utf-8", errors="replace")
        runner = file_transaction(text, path, self.config.runner, self.config.transaction)
        # what decides a result besides the bytes: how the file runs, and an extension script's control file
        digest = hashlib.sha256(repr((runner, extension_search_path(path, text))).encode())
        digest.update(data)
        key = self.keys[path] = digest.hexdigest()
        if self._entries is None:
            self._entries = self._read_pack()
        entry = self._entries.get(key)
        if entry is None:
            return None
        findings = [Finding(display, **finding) for finding in entry["findings"]]
        return FileResult(display, findings, note=entry["note"], statements=entry["statements"])

    def store(self, path: Path, result: FileResult) -> None:
        """Keep a fresh result of a file get() missed (unreadable files are not kept) until save()."""
        key = self.keys.get(path)
        if key is None or result.error is not None:
            return
        findings = [{k: v for k, v in finding.as_dict().items() if k != "path"} for finding in result.findings]
        self.fresh[key] = {"findings": findings, "note": result.note, "statements": result.statements}

    def save(self) -> None:
        """Write the fresh entries into the pack, with those other runs wrote meanwhile."""
        if not self.fresh:
            return
        entries = self._read_pack()
        if len(entries) + len(self.fresh) > self.MAX_ENTRIES:
            entries = {}
        entries.update(self.fresh)
        try:
            self.pack.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.pack.with_name(f"{self.pack.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(entries, separators=(",", ":")))
            os.replace(temporary, self.pack)
        except OSError:
            pass  # a read-only or full cache directory only costs the next run its speed
        self.fresh = {}
