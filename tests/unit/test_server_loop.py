"""serve() hands aiohttp uvloop's event loop: the signalling hot path is costed on it (bench/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvloop

from telepractice import server
from telepractice.config import load_settings


def test_serve_runs_the_app_on_uvloops_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given: dict[str, Any] = {}
    monkeypatch.setattr(server.web, "run_app", lambda app, **options: given.update(options, app=app))
    settings = load_settings({}, {"data_dir": str(tmp_path), "behind_proxy": "true"})
    server.serve(settings)
    loop = given["loop"]
    try:
        assert isinstance(loop, uvloop.Loop)
        assert given["app"] is not None and given["ssl_context"] is None
    finally:
        loop.close()
