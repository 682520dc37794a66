"""Loopback-only network namespaces for WebRTC tests: make one, run processes in it, delete it.

A browser gathers ICE candidates on every address of the machine; inside a
namespace that has nothing but ``lo`` it can only reach 127.0.0.1, so no test
traffic leaves the machine. Playwright drives Chromium through a pipe, so a
wrapper script that execs ``ip netns exec NS /usr/bin/chromium`` puts only the
browser in the namespace while pytest stays outside. Needs root.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

IP = "ip"
CHROMIUM = "/usr/bin/chromium"
PREFIX = "tp-"
COMMAND_TIMEOUT = 10.0


class NamespaceError(RuntimeError):
    """A namespace could not be made or used; the message says which command failed and why."""


def unavailable_reason(chromium: str = CHROMIUM) -> str | None:
    """Why browser tests in a namespace cannot run here, or None when they can (a namespace is tried)."""
    if not os.access(chromium, os.X_OK):
        return f"{chromium} is missing (apt-get install chromium)"
    if os.geteuid() != 0:
        return "making a network namespace needs root"
    if shutil.which(IP) is None:
        return "the ip command is missing (apt-get install iproute2)"
    try:
        with namespace():
            pass
    except NamespaceError as error:
        return str(error)
    return None


def _run(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NamespaceError(f"{' '.join(argv)}: {error}") from None
    if result.returncode != 0:
        raise NamespaceError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


@dataclasses.dataclass(frozen=True)
class Namespace:
    """One network namespace with only a loopback interface, up."""

    name: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as a command that runs inside this namespace (ip execs it: the PID is the program's)."""
        return [IP, "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace to completion; NamespaceError when it fails."""
        return _run(self.command(argv), timeout)

    def popen(self, argv: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside the namespace; the caller stops it by its PID."""
        return subprocess.Popen(self.command(argv), **options)

    def interfaces(self) -> list[str]:
        lines = self.run([IP, "-o", "link", "show"]).stdout.splitlines()
        return [line.split(":")[1].strip().split("@")[0] for line in lines if line.count(":") >= 2]

    def chromium_wrapper(self, directory: Path, chromium: str = CHROMIUM) -> Path:
        """An executable that runs Chromium inside this namespace, for Playwright's ``executable_path``."""
        directory.mkdir(parents=True, exist_ok=True)
        wrapper = directory / f"chromium-{self.name}"
        wrapper.write_text(f'#!/bin/sh\nexec {IP} netns exec {self.name} {chromium} "$@"\n')
        wrapper.chmod(0o755)
        return wrapper


def create(prefix: str = PREFIX) -> Namespace:
    """A new namespace ``tp-<random>`` with ``lo`` up and no other interface."""
    ns = Namespace(f"{prefix}{secrets.token_hex(4)}")
    _run([IP, "netns", "add", ns.name])
    try:
        ns.run([IP, "link", "set", "lo", "up"])
        others = [name for name in ns.interfaces() if name != "lo"]
        if others:
            raise NamespaceError(f"namespace {ns.name} has interfaces besides lo: {', '.join(others)}")
    except BaseException:
        delete(ns)
        raise
    return ns


def delete(ns: Namespace) -> None:
    """Remove the namespace's name; it goes away once the last process in it has ended."""
    with contextlib.suppress(NamespaceError):
        _run([IP, "netns", "delete", ns.name])


@contextlib.contextmanager
def namespace(prefix: str = PREFIX) -> Iterator[Namespace]:
    ns = create(prefix)
    try:
        yield ns
    finally:
        delete(ns)
