"""The README's commands and their output stay true word for word."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_quickstart_has_install_and_the_ci_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    install = ".venv/bin/pip install -e '.[dev]' --config-settings editable_mode=compat"
    assert install in README and install.replace(".venv/bin/pip", ".venv/bin/pip --quiet") not in ci
    assert "-e '.[dev]' --config-settings editable_mode=compat" in ci
    assert "\n.venv/bin/python -m pytest\n" in README and "\n.venv/bin/python -m pytest\n" in ci


def test_console_examples_print_what_the_readme_shows():
    for command, expected in re.findall(r"```console\n\$ (.+?)\n(.*?)```", README, re.DOTALL):
        arguments = command.replace(".venv/bin/migrator", "").split()
        result = subprocess.run([sys.executable, "-m", "migrator", *arguments], capture_output=True, text=True, cwd=ROOT)
        assert result.stdout == expected, f"README example `{command}` is stale"
