"""Tools the tests need that PyPI does not ship (PgBouncer, Prometheus's promtool), taken from
Debian's packages without installing them: `apt-get download` and `dpkg-deb -x` unpack a package,
with its libraries that are not installed, into a folder. That needs no root and changes nothing
on the machine (a plain pip user is not root; `apt-get install` would need it), so the README's
two commands stay all the set-up a fresh machine needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def unpacked(package: str, binary: str, root: Path | None = None) -> tuple[str, dict[str, str]]:
    """`binary` (a path inside the package, e.g. usr/sbin/pgbouncer) from Debian's `package`,
    unpacked once under root (default: the temp dir), and the environment it runs with."""
    root = root or Path(tempfile.gettempdir()) / f"migrator-{package}"
    if not (root / binary).exists():
        unpack(package, root)
    libraries = sorted({str(library.parent) for library in root.rglob("*.so*")})
    return str(root / binary), {"LD_LIBRARY_PATH": ":".join(libraries)} if libraries else {}


def unpack(package: str, root: Path) -> None:
    """Debian's package and its not-installed libraries, unpacked under root."""
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        raise RuntimeError(f"the tests need {package}, and this is not a Debian-like system to take it from: install it")
    depends = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests", package],
                             capture_output=True, text=True).stdout
    libraries = [line.split(":", 1)[1].strip() for line in depends.splitlines()
                 if line.strip().startswith("Depends: lib") and not line.strip().startswith(("Depends: libc6", "Depends: libjs-"))]
    missing = [name for name in libraries if subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}", name], capture_output=True, text=True).stdout != "installed"]
    staging = Path(tempfile.mkdtemp(prefix=f"migrator-{package}-staging-"))
    try:
        download = subprocess.run(["apt-get", "download", package, *missing], cwd=staging, capture_output=True, text=True)
        if download.returncode != 0 and os.geteuid() == 0:  # a fresh machine has no package lists yet
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            download = subprocess.run(["apt-get", "download", package, *missing], cwd=staging, capture_output=True, text=True)
        if download.returncode != 0:
            raise RuntimeError(f"apt-get download {package} failed: {download.stderr.strip().splitlines()[-1:]}")
        for deb in staging.glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(staging / "root")], check=True)
        os.chmod(staging, 0o755)
        os.chmod(staging / "root", 0o755)
        try:
            os.rename(staging / "root", root)
        except OSError:  # unpacked meanwhile by another test run
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
