"""Environment → one frozen settings object, read once at start-up."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path


def default_seeds_dir() -> Path:
    """`seeds/` in the working directory, else the one beside the package."""
    here = Path("seeds")
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / "seeds"


class SettingsError(ValueError):
    """A configuration value is missing or wrong; the message says which and how to fix it."""


def _demo_secret(path: Path) -> str:
    """A demo secret kept on disk so participant cookies survive a restart of `serve --demo`."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _cap(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, not {raw!r}.")
    return value


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0.1 <= value <= 3600:
        raise SettingsError(f"{name} must be a number of seconds between 0.1 and 3600, not {raw!r}.")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///var/board.sqlite3"
    database_schema: str | None = None
    redis_url: str | None = None
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    redis_prefix: str = "board:"
    demo: bool = False
    debug: bool = False
    data_licence: str = "Licence Ouverte / Etalab 2.0"
    answer_limit: str = "5/minute"
    vote_limit: str = "60/minute"
    join_limit: str = "600/minute"
    login_limit: str = "10/minute"
    login_address_limit: str = "60/minute"
    seeds_dir: Path = field(default_factory=lambda: default_seeds_dir())
    timezone: str = "Europe/Paris"
    screen_frame_ancestors: str = "'none'"
    trusted_proxies: frozenset[str] = frozenset()
    stream_limit_participant: int = 8
    stream_limit_address: int = 1000
    data_dir: Path = Path("var")
    opinions_interval: float = 3.0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, *, demo: bool = False, env: dict[str, str] | None = None) -> Settings:
        """The settings from `env` (default: the process environment); an unset or empty variable keeps its default."""
        env = dict(os.environ if env is None else env)
        default = cls()

        def text(name: str, fallback: str) -> str:
            return env.get(name) or fallback

        data_dir = Path(text("BOARD_DATA_DIR", str(default.data_dir)))
        secret = env.get("BOARD_SECRET_KEY", "")
        if not secret:
            if not demo:
                raise SettingsError(
                    "BOARD_SECRET_KEY is not set. Set it to a long random string "
                    "(python -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                    "or run `board serve --demo` to try the board."
                )
            secret = _demo_secret(data_dir / "demo-secret")
        if len(secret) < 16:
            raise SettingsError("BOARD_SECRET_KEY must be at least 16 characters long.")
        return cls(
            database_url=text("BOARD_DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'board.sqlite3'}"),
            database_schema=env.get("BOARD_DATABASE_SCHEMA") or None,
            redis_url=env.get("BOARD_REDIS_URL") or None,
            secret_key=secret,
            public_url=text("BOARD_PUBLIC_URL", default.public_url).rstrip("/"),
            redis_prefix=text("BOARD_REDIS_PREFIX", default.redis_prefix),
            demo=demo,
            debug=env.get("BOARD_DEBUG", "") in {"1", "true", "yes"},
            data_licence=text("BOARD_DATA_LICENCE", default.data_licence),
            answer_limit=text("BOARD_ANSWER_LIMIT", default.answer_limit),
            vote_limit=text("BOARD_VOTE_LIMIT", default.vote_limit),
            join_limit=text("BOARD_JOIN_LIMIT", default.join_limit),
            login_limit=text("BOARD_LOGIN_LIMIT", default.login_limit),
            login_address_limit=text("BOARD_LOGIN_ADDRESS_LIMIT", default.login_address_limit),
            seeds_dir=Path(env["BOARD_SEEDS_DIR"]) if env.get("BOARD_SEEDS_DIR") else default.seeds_dir,
            timezone=text("BOARD_TIMEZONE", default.timezone),
            screen_frame_ancestors=text("BOARD_SCREEN_FRAME_ANCESTORS", default.screen_frame_ancestors),
            trusted_proxies=frozenset(
                p.strip() for p in (env.get("BOARD_TRUSTED_PROXIES") or "").split(",") if p.strip()
            ),
            stream_limit_participant=_cap(
                env, "BOARD_STREAM_LIMIT_PARTICIPANT", default.stream_limit_participant
            ),
            stream_limit_address=_cap(env, "BOARD_STREAM_LIMIT_ADDRESS", default.stream_limit_address),
            data_dir=data_dir,
            opinions_interval=_seconds(env, "BOARD_OPINIONS_INTERVAL", default.opinions_interval),
        )

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
