"""Settings parsed once, from defaults, an optional TOML file and the environment."""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "TELEPRACTICE_"
CONFIG_FILE_ENV = "TELEPRACTICE_CONFIG"


class ConfigError(Exception):
    """A setting has a value telepractice cannot start with; the message names it."""


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8443
    public_origin: str = ""
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    behind_proxy: bool = False
    keys_dir: Path | None = None
    issuer: str = "telepractice"
    access_token_minutes: int = 5
    staff_idle_minutes: int = 15
    staff_session_hours: int = 12
    login_max_failures: int = 5
    login_window_minutes: int = 15
    max_body_bytes: int = 65536
    redis_url: str | None = None
    log_level: str = "INFO"
    turn_secret: str | None = dataclasses.field(default=None, repr=False)
    turn_urls: tuple[str, ...] = ()
    turn_lifetime_seconds: int = 3600
    contacts_high: int = 5
    contacts_medium: int = 3
    contacts_low: int = 1
    probe_max_concurrent: int = 4
    probe_max_seconds: int = 20

    @property
    def key_directory(self) -> Path:
        return self.keys_dir or self.data_dir / "keys"

    @property
    def tls_directory(self) -> Path:
        return self.data_dir / "tls"

    @property
    def scheme(self) -> str:
        return "http" if self.behind_proxy else "https"


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _path(value: Any) -> Path:
    return Path(_text(value)).expanduser()


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _whole_number(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool | float):
            raise ValueError(f"must be a whole number from {low} to {high}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return number

    return parse


def _database_url(value: Any) -> str:
    url = _text(value)
    scheme = url.split("://", 1)[0]
    if scheme not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
        raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
    return url


def _origin(value: Any) -> str:
    parts = urlsplit(_text(value))
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.path not in {"", "/"}:
        raise ValueError("must be an origin such as https://sessions.example.org")
    if parts.query or parts.fragment or parts.username:
        raise ValueError("must be an origin such as https://sessions.example.org")
    return f"{parts.scheme}://{parts.netloc}"


def _host(value: Any) -> str:
    host = _text(value)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not all(part.isalnum() or "-" in part for part in host.split(".")):
            raise ValueError("must be an IP address or host name") from None
    return host


def _redis_url(value: Any) -> str:
    url = _text(value)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return url


def _turn_secret(value: Any) -> str:
    secret = _text(value)
    if len(secret) < 32:
        raise ValueError("must be at least 32 characters (e.g. openssl rand -hex 32)")
    return secret


def _turn_urls(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("must be a comma-separated list of turn:, turns: or stun: URLs")
    urls = tuple(str(item).strip() for item in items)
    if not all(url.startswith(("turn:", "turns:", "stun:")) and len(url) > 6 for url in urls):
        raise ValueError("must be a comma-separated list of turn:, turns: or stun: URLs")
    return urls


def _log_level(value: Any) -> str:
    level = _text(value).upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
    return level


SECRET_SETTINGS = frozenset({"turn_secret"})

PARSERS: dict[str, Callable[[Any], Any]] = {
    "data_dir": _path,
    "database_url": _database_url,
    "host": _host,
    "port": _whole_number(1, 65535),
    "public_origin": _origin,
    "tls_cert_file": _path,
    "tls_key_file": _path,
    "behind_proxy": _bool,
    "keys_dir": _path,
    "issuer": _text,
    "access_token_minutes": _whole_number(1, 60),
    "staff_idle_minutes": _whole_number(1, 480),
    "staff_session_hours": _whole_number(1, 24),
    "login_max_failures": _whole_number(1, 100),
    "login_window_minutes": _whole_number(1, 1440),
    "max_body_bytes": _whole_number(1024, 16 * 1024 * 1024),
    "redis_url": _redis_url,
    "log_level": _log_level,
    "turn_secret": _turn_secret,
    "turn_urls": _turn_urls,
    "turn_lifetime_seconds": _whole_number(60, 86400),
    "contacts_high": _whole_number(0, 21),
    "contacts_medium": _whole_number(0, 21),
    "contacts_low": _whole_number(0, 21),
    "probe_max_concurrent": _whole_number(0, 64),
    "probe_max_seconds": _whole_number(5, 120),
}

DESCRIPTIONS: dict[str, str] = {
    "data_dir": "Directory for the SQLite database, the development certificate and the key files.",
    "database_url": "SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db.",
    "host": "Address to listen on.",
    "port": "Port to listen on.",
    "public_origin": "The origin browsers use to reach the server, e.g. https://sessions.example.org.",
    "tls_cert_file": "PEM certificate chain; with tls_key_file replaces the development certificate.",
    "tls_key_file": "PEM private key for tls_cert_file.",
    "behind_proxy": "Serve plain HTTP for a TLS-terminating reverse proxy on the same host.",
    "keys_dir": "Directory of the key-encryption and signing keys (default: DATA_DIR/keys).",
    "issuer": "The iss claim of tokens this server signs.",
    "access_token_minutes": "Lifetime of a staff access token.",
    "staff_idle_minutes": "A staff login ends after this many minutes without activity.",
    "staff_session_hours": "A staff login ends after this many hours in all.",
    "login_max_failures": "Failed logins per account or address before each attempt is slowed down.",
    "login_window_minutes": "How long failed logins are remembered.",
    "max_body_bytes": "Largest request body accepted.",
    "redis_url": "Redis URL for the message bus between several server instances.",
    "log_level": "DEBUG, INFO, WARNING or ERROR.",
    "turn_secret": "Shared secret of coturn's REST scheme (static-auth-secret); never logged.",
    "turn_urls": "Comma-separated TURN/STUN URLs for participants and the connection-test peer.",
    "turn_lifetime_seconds": "Longest lifetime of a TURN credential; never past the session's end.",
    "contacts_high": "Minimum contacts per week with a high-risk case.",
    "contacts_medium": "Minimum contacts per week with a medium-risk case.",
    "contacts_low": "Minimum contacts per week with a low-risk case.",
    "probe_max_concurrent": "Connection tests (an aiortc peer each) the server runs at once.",
    "probe_max_seconds": "Longest a connection test may run before the server closes it.",
}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{CONFIG_FILE_ENV}: no such file {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    if "telepractice" not in document:
        return document
    stray = sorted(set(document) - {"telepractice"})
    if stray:
        raise ConfigError(f"{path}: '{stray[0]}' is outside the [telepractice] table")
    return document["telepractice"]


def load_settings(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build Settings from a TOML file, the environment and explicit overrides, in that order."""
    raw: dict[str, tuple[str, Any]] = {}
    config_file = environ.get(CONFIG_FILE_ENV)
    if config_file:
        for key, value in _read_toml(Path(config_file)).items():
            if key not in PARSERS:
                raise ConfigError(f"{config_file}: unknown setting '{key}'")
            raw[key] = (f"{config_file}: {key}", value)
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_FILE_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key in PARSERS:
            raw[key] = (name, value)
    for key, value in (overrides or {}).items():
        if value is not None:
            raw[key] = (f"--{key.replace('_', '-')}", value)

    values: dict[str, Any] = {}
    for key, (source, value) in raw.items():
        try:
            values[key] = PARSERS[key](value)
        except ValueError as error:
            shown = "(hidden)" if key in SECRET_SETTINGS else repr(value)
            raise ConfigError(f"{source}: {error}, got {shown}") from None

    settings = Settings(**values)
    return _complete(settings, raw)


def _complete(settings: Settings, raw: Mapping[str, tuple[str, Any]]) -> Settings:
    if (settings.tls_cert_file is None) != (settings.tls_key_file is None):
        source = raw.get("tls_cert_file", raw.get("tls_key_file", ("tls_cert_file", None)))[0]
        raise ConfigError(f"{source}: tls_cert_file and tls_key_file must be set together")
    if settings.behind_proxy and settings.tls_cert_file is not None:
        raise ConfigError(f"{raw['behind_proxy'][0]}: behind_proxy serves plain HTTP; unset the TLS files")
    changes: dict[str, Any] = {}
    if not settings.database_url:
        changes["database_url"] = f"sqlite+aiosqlite:///{settings.data_dir.resolve() / 'telepractice.db'}"
    if not settings.public_origin:
        host = "localhost" if settings.host in {"127.0.0.1", "::1", "0.0.0.0", "::"} else settings.host
        changes["public_origin"] = f"{settings.scheme}://{host}:{settings.port}"
    return dataclasses.replace(settings, **changes)
