"""What .ci/run relies on: its pip installs read .ci/pip.conf, so a per-user pip.conf's on-disk
extra indexes (a machine's partial local mirrors) do not make pip warn once per package and index."""

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MISSING = "is ignored: it is neither a file nor a directory"


def test_every_install_of_ci_run_reads_its_pip_conf():
    script = (ROOT / ".ci" / "run").read_text()
    installs = re.findall(r"^.*\bpip install\b.*$", script, re.MULTILINE)
    assert len(installs) == 3 and all(line.startswith('PIP_CONFIG_FILE="$ci_pip_conf" ') for line in installs), installs
    assert 'ci_pip_conf="$PWD/.ci/pip.conf"' in script


def test_with_it_an_on_disk_extra_index_of_the_user_config_is_not_read_and_errors_still_show(tmp_path):
    index = tmp_path / "index" / "tinypkg"  # the index the install should use (PIP_INDEX_URL, still read)
    index.mkdir(parents=True)
    with zipfile.ZipFile(index / "tinypkg-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("tinypkg/__init__.py", "")
        wheel.writestr("tinypkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n")
        wheel.writestr("tinypkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr("tinypkg-1.0.dist-info/RECORD", "")
    (index / "index.html").write_text('<a href="tinypkg-1.0-py3-none-any.whl">tinypkg-1.0-py3-none-any.whl</a>\n')
    mirror = tmp_path / "mirror" / "simple"  # a partial local mirror that lacks tinypkg
    mirror.mkdir(parents=True)
    (tmp_path / "config" / "pip").mkdir(parents=True)
    (tmp_path / "config" / "pip" / "pip.conf").write_text(f"[global]\nextra-index-url = {mirror.as_uri()}\n")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), "PIP_NO_CACHE_DIR": "1",
           "PIP_INDEX_URL": (tmp_path / "index").as_uri(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PIP_FIND_LINKS", None)
    env.pop("PIP_CONFIG_FILE", None)
    pip = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--quiet"]

    as_configured = subprocess.run(pip + ["tinypkg"], capture_output=True, text=True, env=env)
    assert as_configured.returncode == 0 and f"{mirror.as_uri()}/tinypkg/' {MISSING}" in as_configured.stderr

    env["PIP_CONFIG_FILE"] = str(ROOT / ".ci" / "pip.conf")
    as_ci = subprocess.run(pip + ["tinypkg"], capture_output=True, text=True, env=env)
    assert as_ci.returncode == 0 and as_ci.stderr == "", as_ci.stderr
    missing = subprocess.run(pip + ["tinypkg==2.0"], capture_output=True, text=True, env=env)
    assert missing.returncode == 1 and "ERROR: No matching distribution found for tinypkg==2.0" in missing.stderr
