"""Debian's nginx running certs/README.md's own site file, inside a test's network namespace.

The site is read from the README's ``nginx`` block, so what an organisation
copies is what the tests run. Only what must differ on a test machine is
replaced: the certificate's paths, the log files and the ACME web root; each
replacement must find its text, so a README that changes them fails here
instead of testing something else. In a fresh namespace ports 80, 443 and
8080 are free, so the site's ports stay as written. Stopped by its PID.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
from pathlib import Path

from telepractice.testing.netns import Namespace
from telepractice.testing.server import wait_for_port

NGINX = "/usr/sbin/nginx"
HTTPS_PORT = 443
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

# The README's paths, and what stands in for each on a test machine (formatted with the test's directory).
_DEPLOYMENT_PATHS = {
    "/etc/letsencrypt/live/sessions.example.org/fullchain.pem": "{directory}/cert.pem",
    "/etc/letsencrypt/live/sessions.example.org/privkey.pem": "{directory}/key.pem",
    "/var/log/nginx/": "{directory}/",
    "/var/www/acme": "{directory}/acme",
}


class NginxError(RuntimeError):
    """nginx refused its configuration or did not listen in time; the message carries its error log."""


def readme_site(readme: str) -> str:
    """The nginx site file of certs/README.md: the first ```nginx block after its "### nginx" heading."""
    found = re.search(r"^### nginx$.*?^```nginx\n(.*?)^```$", readme, re.MULTILINE | re.DOTALL)
    if found is None:
        raise NginxError("certs/README.md has no ```nginx block under '### nginx'")
    return found.group(1)


def site_for_test(site: str, directory: Path) -> str:
    """The site with the deployment's paths replaced by ones in ``directory``."""
    for path, stand_in in _DEPLOYMENT_PATHS.items():
        if path not in site:
            raise NginxError(f"the README's nginx site no longer names {path}; update {__name__}")
        site = site.replace(path, stand_in.format(directory=directory))
    return site


def main_config(directory: Path, site: str) -> str:
    """A whole nginx.conf around ``site``, keeping every file nginx writes in ``directory``."""
    # Debian's own nginx.conf includes sites-enabled/* inside http {} the same way; it runs workers as www-data,
    # which could not write the test's directory, so a root master keeps root workers here.
    temp_paths = "".join(f"    {kind}_temp_path {directory}/{kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{'user root;' if os.geteuid() == 0 else ''}\n"
            f"pid {directory}/nginx.pid;\n"
            f"error_log {directory}/error.log info;\n"
            "worker_processes 1;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"{temp_paths}"
            f"{site}"
            "}\n")


@dataclasses.dataclass
class RunningNginx:
    process: subprocess.Popen[bytes]
    directory: Path

    def log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM (nginx's fast shutdown), then SIGKILL if it has not ended in time."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)


def write_config(directory: Path, site: str, cert: Path, key: Path) -> Path:
    """nginx.conf for the README's ``site`` in ``directory``, with this certificate; its path."""
    (directory / "acme").mkdir(parents=True, exist_ok=True)
    (directory / "cert.pem").write_bytes(cert.read_bytes())
    (directory / "key.pem").write_bytes(key.read_bytes())
    config = directory / "nginx.conf"
    config.write_text(main_config(directory, site_for_test(site, directory)))
    return config


def check_config(ns: Namespace, directory: Path, config: Path) -> None:
    """``nginx -t``, as the README has it run before every reload."""
    checked = subprocess.run(ns.command([NGINX, "-t", "-p", str(directory), "-c", str(config)]),
                             capture_output=True, text=True, timeout=STOP_TIMEOUT, check=False)
    if checked.returncode != 0:
        raise NginxError(f"nginx -t refused the README's site:\n{checked.stderr}")


def start_nginx(ns: Namespace, directory: Path, config: Path) -> RunningNginx:
    """nginx in the foreground in ``ns``; returns once it listens on 443 there."""
    with (directory / "nginx.out").open("wb") as output:
        process = ns.popen([NGINX, "-p", str(directory), "-c", str(config), "-g", "daemon off;"],
                           stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    running = RunningNginx(process, directory)
    try:
        if not wait_for_port(ns, HTTPS_PORT, START_TIMEOUT) or process.poll() is not None:
            raise NginxError(f"nginx did not listen on {HTTPS_PORT} within {START_TIMEOUT:g} s:\n{running.log()[-2000:]}")
    except BaseException:
        running.stop()
        raise
    return running
