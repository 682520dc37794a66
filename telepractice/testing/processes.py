"""Stopping the processes tests start (servers, proxies, link emulators), by their PID."""

from __future__ import annotations

import signal
import subprocess

STOP_TIMEOUT = 10.0


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL if the process has not ended within ``timeout``; nothing if it has already ended."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
