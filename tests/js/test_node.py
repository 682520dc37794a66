"""The browser modules' own tests (tests/js/*.test.mjs), run by Node's test runner against web/js/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT = 60


def test_the_browser_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    assert node is not None, "node is not installed: bash .ci/install installs it (apt-get install nodejs)"
    files = sorted(str(path) for path in HERE.glob("*.test.mjs"))
    assert files, "no tests/js/*.test.mjs found"
    result = subprocess.run([node, "--test", *files], capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
