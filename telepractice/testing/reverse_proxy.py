"""certs/README.md's own proxy files, run by Debian's nginx or Caddy inside a test's network namespace.

Each file is read from the README's code block, so what an organisation
copies is what the tests run. Only what must differ on a test machine is
replaced: the certificate, the log files and the ACME web root. Each
replacement must find its text, so a README that changes them fails here
instead of testing something else. In a fresh namespace ports 80, 443 and
8080 are free, so the files' ports stay as written. Stopped by its PID.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from telepractice.testing.netns import Namespace
from telepractice.testing.processes import stop_process
from telepractice.testing.server import wait_for_port

PUBLIC_NAME = "sessions.example.org"  # the name both files serve
UPSTREAM_PORT = 8080  # where both files send requests on: telepractice on 127.0.0.1
HTTPS_PORT = 443
START_TIMEOUT = 15.0


class ProxyError(RuntimeError):
    """The proxy refused its configuration or did not listen in time; the message carries its log."""


@dataclasses.dataclass(frozen=True)
class Proxy:
    """One proxy the README documents: where its block is, what a test replaces in it, how it is run."""

    name: str
    binary: str
    heading: str  # the README's "### " heading above the block
    fence: str  # the block's language tag
    replacements: Mapping[str, str]  # the README's text, and what stands in for it ({directory} is the test's)
    access_log: str  # the file's access log, once moved into the test's directory
    whole_config: Callable[[Path, str], str]  # the test's whole configuration around the README's block
    check_args: Callable[[Path, Path], list[str]]  # (directory, config): the README's check before a reload
    run_args: Callable[[Path, Path], list[str]]  # (directory, config): running in the foreground


def config_path(directory: Path) -> Path:
    return directory / "proxy.conf"


def readme_block(readme: str, proxy: Proxy) -> str:
    """The first ```<fence> block after the README's "### <heading>"."""
    found = re.search(rf"^### {re.escape(proxy.heading)}$.*?^```{re.escape(proxy.fence)}\n(.*?)^```$", readme,
                      re.MULTILINE | re.DOTALL)
    if found is None:
        raise ProxyError(f"certs/README.md has no ```{proxy.fence} block under '### {proxy.heading}'")
    return found.group(1)


def for_test(block: str, proxy: Proxy, directory: Path) -> str:
    """The block with the deployment's paths replaced by ones in ``directory``."""
    for text, stand_in in proxy.replacements.items():
        if text not in block:
            raise ProxyError(f"the README's {proxy.name} file no longer has {text!r}; update {__name__}")
        block = block.replace(text, stand_in.format(directory=directory))
    return block


def _nginx_config(directory: Path, site: str) -> str:
    # Debian's own nginx.conf includes sites-enabled/* inside http {} the same way; it runs workers as www-data,
    # which could not write the test's directory, so a root master keeps root workers here.
    temp_paths = "".join(f"    {kind}_temp_path {directory}/{kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{'user root;' if os.geteuid() == 0 else ''}\n"
            f"pid {directory}/nginx.pid;\n"
            f"error_log {directory}/error.log info;\n"
            "worker_processes 1;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n{temp_paths}{site}}}\n")


def _caddy_config(directory: Path, caddyfile: str) -> str:
    # Global options first, as a Caddyfile requires: no admin endpoint, and Caddy's own data kept with the test.
    return f"{{\n\tadmin off\n\tstorage file_system {directory}/data\n}}\n\n{caddyfile}"


NGINX = Proxy(
    name="nginx", binary="/usr/sbin/nginx", heading="nginx", fence="nginx",
    replacements={
        "/etc/letsencrypt/live/sessions.example.org/fullchain.pem": "{directory}/cert.pem",
        "/etc/letsencrypt/live/sessions.example.org/privkey.pem": "{directory}/key.pem",
        "/var/log/nginx/": "{directory}/",
        "/var/www/acme": "{directory}/acme",
    },
    access_log="telepractice.access.log",
    whole_config=_nginx_config,
    check_args=lambda directory, config: ["-t", "-p", str(directory), "-c", str(config)],
    run_args=lambda directory, config: ["-p", str(directory), "-c", str(config), "-g", "daemon off;"],
)

CADDY = Proxy(
    name="caddy", binary="/usr/bin/caddy", heading="Caddy", fence="caddyfile",
    replacements={
        # The certificate authority's contact address stands for a certificate Caddy fetches; here it is given.
        "tls admin@example.org": "tls {directory}/cert.pem {directory}/key.pem",
        "/var/log/caddy/": "{directory}/",
    },
    access_log="telepractice.log",
    whole_config=_caddy_config,
    check_args=lambda _directory, config: ["validate", "--config", str(config), "--adapter", "caddyfile"],
    run_args=lambda _directory, config: ["run", "--config", str(config), "--adapter", "caddyfile"],
)

PROXIES = {proxy.name: proxy for proxy in (NGINX, CADDY)}


@dataclasses.dataclass
class RunningProxy:
    proxy: Proxy
    process: subprocess.Popen[bytes]
    directory: Path

    def log(self) -> str:
        return "".join(path.read_text(errors="replace") for path in (self.directory / "error.log",
                                                                     self.directory / "proxy.out") if path.exists())

    def access_log(self) -> str:
        return (self.directory / self.proxy.access_log).read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM (a fast shutdown for nginx, a graceful one for Caddy), then SIGKILL if it has not ended in time."""
        stop_process(self.process)


def _environment(directory: Path) -> dict[str, str]:
    # Caddy keeps its state under HOME and the XDG directories: the test's, not the machine's.
    return {**os.environ, "HOME": str(directory), "XDG_DATA_HOME": str(directory / "data"),
            "XDG_CONFIG_HOME": str(directory / "config")}


def write_config(proxy: Proxy, directory: Path, readme: str, cert: Path, key: Path) -> Path:
    """The proxy's configuration for the README's file in ``directory``, with this certificate; its path."""
    (directory / "acme").mkdir(parents=True, exist_ok=True)
    (directory / "cert.pem").write_bytes(cert.read_bytes())
    (directory / "key.pem").write_bytes(key.read_bytes())
    config = config_path(directory)
    config.write_text(proxy.whole_config(directory, for_test(readme_block(readme, proxy), proxy, directory)))
    return config


def check_config(ns: Namespace, proxy: Proxy, directory: Path) -> None:
    """The check the README has run before every reload (``nginx -t``, ``caddy validate``)."""
    checked = subprocess.run(ns.command([proxy.binary, *proxy.check_args(directory, config_path(directory))]),
                             capture_output=True, text=True, timeout=START_TIMEOUT, check=False,
                             env=_environment(directory))
    if checked.returncode != 0:
        raise ProxyError(f"{proxy.name} refused the README's file:\n{checked.stderr}{checked.stdout}")


def start_proxy(ns: Namespace, proxy: Proxy, directory: Path) -> RunningProxy:
    """The proxy in the foreground in ``ns``; returns once it listens on 443 there."""
    with (directory / "proxy.out").open("wb") as output:
        process = ns.popen([proxy.binary, *proxy.run_args(directory, config_path(directory))], stdout=output,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_environment(directory))
    running = RunningProxy(proxy, process, directory)
    try:
        if not wait_for_port(ns, HTTPS_PORT, START_TIMEOUT) or process.poll() is not None:
            raise ProxyError(f"{proxy.name} did not listen on {HTTPS_PORT} within {START_TIMEOUT:g} s:\n"
                             f"{running.log()[-2000:]}")
    except BaseException:
        running.stop()
        raise
    return running
