"""Settings: where they come from, which source wins, and how wrong values are refused."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from telepractice.config import DESCRIPTIONS, PARSERS, ConfigError, Settings, load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `(?P<key>[a-z_]+)` \| `(?P<env>[A-Z_]+)` \| (?P<default>.*?) \| (?P<meaning>.*) \|$")

# A wrong value for every setting, as an environment variable (always a string) ...
BAD_ENV: dict[str, str] = {
    "data_dir": "  ",
    "database_url": "mysql://root@localhost/telepractice",
    "host": "not a host!",
    "port": "0",
    "public_origin": "https://sessions.example.org/join",
    "tls_cert_file": "",
    "tls_key_file": "",
    "behind_proxy": "maybe",
    "keys_dir": "",
    "issuer": " ",
    "access_token_minutes": "61",
    "staff_idle_minutes": "0",
    "staff_session_hours": "25",
    "login_max_failures": "many",
    "login_window_minutes": "1441",
    "max_body_bytes": "1023",
    "redis_url": "http://127.0.0.1:6379",
    "log_level": "TRACE",
    "turn_secret": "too-short",
    "turn_urls": "http://turn.example.org",
    "turn_lifetime_seconds": "59",
    "contacts_high": "22",
    "contacts_medium": "three",
    "contacts_low": "-1",
    "probe_max_concurrent": "65",
    "probe_max_seconds": "4",
}
# ... and as a TOML value, where the wrong type is the usual mistake.
BAD_TOML: dict[str, Any] = {
    "data_dir": 3,
    "database_url": "sqlite:///telepractice.db",
    "host": "",
    "port": 70000,
    "public_origin": "ftp://sessions.example.org",
    "tls_cert_file": False,
    "tls_key_file": ["key.pem"],
    "behind_proxy": "perhaps",
    "keys_dir": 0,
    "issuer": 5,
    "access_token_minutes": True,
    "staff_idle_minutes": "ten",
    "staff_session_hours": 0,
    "login_max_failures": 101,
    "login_window_minutes": -1,
    "max_body_bytes": "64k",
    "redis_url": "127.0.0.1:6379",
    "log_level": "verbose",
    "turn_secret": 12345,
    "turn_urls": [],
    "turn_lifetime_seconds": 86401,
    "contacts_high": 2.5,
    "contacts_medium": [3],
    "contacts_low": 22,
    "probe_max_concurrent": -1,
    "probe_max_seconds": 121,
}


def _documented_rows() -> dict[str, dict[str, str]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if match := ROW.match(line):
            rows[match["key"]] = match.groupdict()
    return rows


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return str(value)


def _write_toml(path: Path, values: dict[str, Any], table: bool = False) -> Path:
    lines = ["[telepractice]"] if table else []
    lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- documentation ---------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(PARSERS))
def test_setting_is_documented_with_its_variable_and_meaning(key: str) -> None:
    rows = _documented_rows()
    assert key in rows, f"{key} has no row in {DOC.name}"
    assert rows[key]["env"] == f"TELEPRACTICE_{key.upper()}"
    assert DESCRIPTIONS[key] in rows[key]["meaning"].replace("`", ""), (
        f"the meaning of {key} in {DOC.name} does not say what config.DESCRIPTIONS says"
    )


def test_documentation_lists_no_setting_that_does_not_exist() -> None:
    assert set(_documented_rows()) == set(PARSERS)


# Settings whose default is None, "" or () are derived or unset; the document explains those in words.
FIXED_DEFAULTS = [f for f in dataclasses.fields(Settings) if f.default not in (None, "", ())]


@pytest.mark.parametrize("field", FIXED_DEFAULTS, ids=lambda f: f.name)
def test_documented_default_is_the_real_default(field: dataclasses.Field[Any]) -> None:
    shown = str(field.default).lower() if isinstance(field.default, bool) else str(field.default)
    assert _documented_rows()[field.name]["default"] == f"`{shown}`"


def test_every_setting_has_a_description_and_a_field() -> None:
    assert set(DESCRIPTIONS) == set(PARSERS) == {f.name for f in dataclasses.fields(Settings)}


def test_example_toml_files_in_the_documentation_load(tmp_path: Path) -> None:
    examples = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert examples
    for number, example in enumerate(examples):
        path = tmp_path / f"example{number}.toml"
        path.write_text(example, encoding="utf-8")
        load_settings({"TELEPRACTICE_CONFIG": str(path)})


# --- sources and precedence ------------------------------------------------------------


def test_defaults_serve_https_on_localhost_with_sqlite_in_the_data_dir() -> None:
    settings = load_settings({})
    assert settings.port == 8443
    assert settings.host == "127.0.0.1"
    assert settings.behind_proxy is False
    assert settings.tls_cert_file is None and settings.tls_key_file is None
    assert settings.redis_url is None
    assert settings.log_level == "INFO"
    assert settings.database_url == f"sqlite+aiosqlite:///{Path('var').resolve() / 'telepractice.db'}"
    assert settings.public_origin == "https://localhost:8443"
    assert settings.key_directory == Path("var") / "keys"
    assert settings.tls_directory == Path("var") / "tls"


def test_settings_cannot_be_changed_once_made() -> None:
    settings = load_settings({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


def test_public_origin_follows_a_proxy_and_a_named_host() -> None:
    settings = load_settings({"TELEPRACTICE_BEHIND_PROXY": "true", "TELEPRACTICE_PORT": "8080"})
    assert settings.public_origin == "http://localhost:8080"
    settings = load_settings({"TELEPRACTICE_HOST": "sessions.example.org"})
    assert settings.public_origin == "https://sessions.example.org:8443"


@pytest.mark.parametrize("table", [False, True], ids=["top-level", "telepractice-table"])
def test_toml_file_is_read_at_top_level_or_from_a_telepractice_table(tmp_path: Path, table: bool) -> None:
    path = _write_toml(
        tmp_path / "telepractice.toml",
        {"port": 9443, "behind_proxy": True, "data_dir": str(tmp_path / "data"), "log_level": "debug"},
        table=table,
    )
    settings = load_settings({"TELEPRACTICE_CONFIG": str(path)})
    assert settings.port == 9443
    assert settings.behind_proxy is True
    assert settings.data_dir == tmp_path / "data"
    assert settings.log_level == "DEBUG"


def test_environment_wins_over_the_toml_file(tmp_path: Path) -> None:
    path = _write_toml(tmp_path / "telepractice.toml", {"port": 9443, "issuer": "from-file"})
    settings = load_settings({"TELEPRACTICE_CONFIG": str(path), "TELEPRACTICE_PORT": "10443"})
    assert settings.port == 10443
    assert settings.issuer == "from-file"


def test_explicit_overrides_win_over_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {"TELEPRACTICE_DATA_DIR": str(tmp_path / "env"), "TELEPRACTICE_PORT": "10443"},
        {"data_dir": str(tmp_path / "flag")},
    )
    assert settings.data_dir == tmp_path / "flag"
    assert settings.port == 10443


def test_override_of_none_leaves_the_environment_value(tmp_path: Path) -> None:
    settings = load_settings({"TELEPRACTICE_DATA_DIR": str(tmp_path / "env")}, {"data_dir": None})
    assert settings.data_dir == tmp_path / "env"


def test_unrelated_environment_variables_are_ignored() -> None:
    assert load_settings({"TELEPRACTICE_NO_SUCH_THING": "1", "PORT": "1"}) == load_settings({})


@pytest.mark.parametrize("text", ["true", "1", "yes", "on", "TRUE"])
def test_behind_proxy_accepts_the_usual_ways_of_saying_yes(text: str) -> None:
    assert load_settings({"TELEPRACTICE_BEHIND_PROXY": text}).behind_proxy is True


# --- wrong values ----------------------------------------------------------------------


def test_every_setting_has_a_wrong_value_to_test() -> None:
    assert set(BAD_ENV) == set(PARSERS) == set(BAD_TOML)


@pytest.mark.parametrize("key", sorted(BAD_ENV))
def test_wrong_environment_value_is_refused_naming_the_variable(key: str) -> None:
    variable = f"TELEPRACTICE_{key.upper()}"
    with pytest.raises(ConfigError) as caught:
        load_settings({variable: BAD_ENV[key]})
    assert variable in str(caught.value)


@pytest.mark.parametrize("key", sorted(BAD_TOML))
def test_wrong_toml_value_is_refused_naming_the_file_and_key(tmp_path: Path, key: str) -> None:
    path = _write_toml(tmp_path / "telepractice.toml", {key: BAD_TOML[key]}, table=True)
    with pytest.raises(ConfigError) as caught:
        load_settings({"TELEPRACTICE_CONFIG": str(path)})
    assert f"{path}: {key}" in str(caught.value)


@pytest.mark.parametrize("key", sorted(BAD_ENV))
def test_wrong_override_is_refused_naming_the_option(key: str) -> None:
    with pytest.raises(ConfigError, match=f"--{key.replace('_', '-')}"):
        load_settings({}, {key: BAD_ENV[key]})


def test_wrong_turn_secret_is_refused_without_showing_it() -> None:
    secret = "not-long-enough-but-still-secret"[:31]
    with pytest.raises(ConfigError, match="TELEPRACTICE_TURN_SECRET") as caught:
        load_settings({"TELEPRACTICE_TURN_SECRET": secret})
    assert secret not in str(caught.value)


def test_turn_secret_stays_out_of_the_settings_repr() -> None:
    secret = "s" * 40
    assert secret not in repr(load_settings({"TELEPRACTICE_TURN_SECRET": secret}))


TURN_URLS = ("turn:turn.example.org:3478", "turns:turn.example.org:443")


@pytest.mark.parametrize("value", [",".join(TURN_URLS), list(TURN_URLS)], ids=["comma-separated", "list"])
def test_turn_urls_are_a_list_or_a_comma_separated_string(tmp_path: Path, value: Any) -> None:
    path = _write_toml(tmp_path / "telepractice.toml", {"turn_urls": value})
    settings = load_settings({"TELEPRACTICE_CONFIG": str(path)})
    assert settings.turn_urls == TURN_URLS


def test_certificate_without_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tls_cert_file and tls_key_file must be set together"):
        load_settings({"TELEPRACTICE_TLS_CERT_FILE": str(tmp_path / "cert.pem")})


def test_key_without_certificate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TELEPRACTICE_TLS_KEY_FILE"):
        load_settings({"TELEPRACTICE_TLS_KEY_FILE": str(tmp_path / "key.pem")})


def test_certificate_and_key_together_are_accepted(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "TELEPRACTICE_TLS_CERT_FILE": str(tmp_path / "cert.pem"),
            "TELEPRACTICE_TLS_KEY_FILE": str(tmp_path / "key.pem"),
        }
    )
    assert settings.tls_cert_file == tmp_path / "cert.pem"
    assert settings.tls_key_file == tmp_path / "key.pem"


def test_proxy_mode_with_a_certificate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TELEPRACTICE_BEHIND_PROXY"):
        load_settings(
            {
                "TELEPRACTICE_BEHIND_PROXY": "true",
                "TELEPRACTICE_TLS_CERT_FILE": str(tmp_path / "cert.pem"),
                "TELEPRACTICE_TLS_KEY_FILE": str(tmp_path / "key.pem"),
            }
        )


@pytest.mark.parametrize("table", [False, True], ids=["top-level", "telepractice-table"])
def test_unknown_toml_key_is_refused_by_name(tmp_path: Path, table: bool) -> None:
    path = _write_toml(tmp_path / "telepractice.toml", {"port": 9443, "prot": 9443}, table=table)
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_settings({"TELEPRACTICE_CONFIG": str(path)})


def test_missing_toml_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings({"TELEPRACTICE_CONFIG": str(tmp_path / "absent.toml")})


def test_toml_file_with_a_syntax_error_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("port = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_settings({"TELEPRACTICE_CONFIG": str(path)})
