"""Reading certs/README.md's proxy files for the tests (telepractice/testing/reverse_proxy.py), without running them."""

from __future__ import annotations

from pathlib import Path

import pytest

from telepractice.testing.reverse_proxy import (
    CADDY,
    NGINX,
    PROXIES,
    PUBLIC_NAME,
    UPSTREAM_PORT,
    ProxyError,
    for_test,
    readme_block,
)

README = (Path(__file__).resolve().parents[2] / "certs" / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_each_proxy_file_is_found_and_only_its_deployment_paths_change(name: str, tmp_path: Path) -> None:
    proxy = PROXIES[name]
    block = readme_block(README, proxy)
    adapted = for_test(block, proxy, tmp_path)
    for text in proxy.replacements:
        assert text not in adapted
    assert f"127.0.0.1:{UPSTREAM_PORT}" in adapted and PUBLIC_NAME in adapted
    # Every line the test did not have to change is the README's own.
    kept = [line for line in block.splitlines() if not any(text in line for text in proxy.replacements)]
    assert kept == [line for line in adapted.splitlines() if str(tmp_path) not in line]


def test_the_nginx_file_is_the_one_under_its_heading_not_the_first_code_block() -> None:
    assert readme_block(README, NGINX).startswith("# /etc/nginx/sites-available/telepractice")
    assert readme_block(README, CADDY).startswith("# /etc/caddy/Caddyfile")


def test_a_readme_whose_file_no_longer_names_a_path_fails_rather_than_testing_something_else(tmp_path: Path) -> None:
    block = readme_block(README, NGINX).replace("/var/www/acme", "/srv/acme")
    with pytest.raises(ProxyError, match="/var/www/acme"):
        for_test(block, NGINX, tmp_path)


def test_a_readme_without_the_heading_says_so() -> None:
    with pytest.raises(ProxyError, match="### Caddy"):
        readme_block(README.replace("### Caddy", "### Caddy server"), CADDY)
