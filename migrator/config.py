"""Configuration: `[tool.migrator]` in pyproject.toml or `migrator.toml`, found upward from a folder."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from migrator.durations import parse_duration

SUPPORTED_PG_VERSIONS = range(10, 20)


class ConfigError(Exception):
    """A bad configuration value or file; the message names where."""


@dataclass(frozen=True)
class Config:
    pg_version: int = 15
    max_timeout_ms: int = 5000
    select: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    transaction: str | None = None  # wrapped | none; None: as the runner runs files (wrapped when unknown)
    runner: str | None = None  # the migration tool (migrator.runners.RUNNERS); None: detected per file
    max_file_size: int = 5 * 1024 * 1024
    source: str | None = None
    backfills: tuple = ()  # unfinished backfills of the target database (lint --dsn), see migrator.gates

    def with_options(self, **options) -> "Config":
        return replace(self, **{k: v for k, v in options.items() if v is not None})


_KEYS = {"pg-version", "max-timeout", "select", "ignore", "transaction", "max-file-size", "runner"}


def find_config_file(start: Path) -> Path | None:
    """The nearest migrator.toml, or pyproject.toml with a [tool.migrator] table, upward from start."""
    for folder in [start, *start.parents]:
        candidate = folder / "migrator.toml"
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                if "migrator" in tomllib.loads(pyproject.read_text()).get("tool", {}):
                    return pyproject
            except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
                continue
    return None


def load_config(path: Path | None = None, start: Path | None = None) -> Config:
    """Read configuration from path, or from the file found upward from start (default: cwd)."""
    if path is None:
        path = find_config_file((start or Path.cwd()).resolve())
        if path is None:
            return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("migrator", {})
    return config_from_mapping(data, str(path))


def config_from_mapping(data: dict, source: str) -> Config:
    unknown = sorted(set(data) - _KEYS - {"fleet"})  # [fleet]: the targets, read by migrator.fleet
    if unknown:
        raise ConfigError(f"{source}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    options: dict = {"source": source}
    if "pg-version" in data:
        options["pg_version"] = check_pg_version(data["pg-version"], f"{source}: pg-version")
    if "max-timeout" in data:
        try:
            options["max_timeout_ms"] = parse_duration(str(data["max-timeout"]))
        except ValueError as error:
            raise ConfigError(f"{source}: max-timeout: {error}") from None
    for key in ("select", "ignore"):
        if key in data:
            value = data[key]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ConfigError(f"{source}: {key} must be a list of rule ids")
            options[key] = frozenset(value)
    if "transaction" in data:
        if data["transaction"] not in ("wrapped", "none"):
            raise ConfigError(f"{source}: transaction must be 'wrapped' or 'none'")
        options["transaction"] = data["transaction"]
    if "runner" in data:
        options["runner"] = check_runner(data["runner"], f"{source}: runner")
    if "max-file-size" in data:
        if not isinstance(data["max-file-size"], int) or data["max-file-size"] <= 0:
            raise ConfigError(f"{source}: max-file-size must be a positive number of bytes")
        options["max_file_size"] = data["max-file-size"]
    return Config(**options)


def check_pg_version(value, where: str) -> int:
    try:
        version = int(value)
    except (TypeError, ValueError):
        version = None
    if version not in SUPPORTED_PG_VERSIONS:
        raise ConfigError(f"{where}: {value!r} is not a supported PostgreSQL major version (10 to 19)")
    return version


def check_runner(value, where: str) -> str:
    from migrator.runners import RUNNERS

    if value not in RUNNERS:
        raise ConfigError(f"{where}: {value!r} is not a known migration tool (known: {', '.join(RUNNERS)})")
    return value
