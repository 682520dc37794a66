"""The browser modules' JSDoc types, checked by TypeScript (web/jsconfig.json: checkJs, strict)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
JSCONFIG = HERE.parents[1] / "web" / "jsconfig.json"
TIMEOUT = 120


def test_the_browser_modules_type_check() -> None:
    # A type error here has been a real fault on screen: the audit trail once showed the word "null" after its
    # table, from a value the types said could not go where it went.
    node = shutil.which("node")
    tsc = HERE / "node_modules" / "typescript" / "bin" / "tsc"
    assert node is not None, "node is not installed: bash .ci/install installs it (apt-get install nodejs)"
    assert tsc.exists(), "TypeScript is not installed: bash .ci/install installs it (npm ci in tests/js)"
    result = subprocess.run([node, str(tsc), "-p", str(JSCONFIG)], capture_output=True, text=True, timeout=TIMEOUT,
                            check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
