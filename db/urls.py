"""Database URLs: the one place that turns any PostgreSQL URL into the asyncpg form we use."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ASYNC_DRIVER = "postgresql+asyncpg"


def asyncpg_url(url: str) -> str:
    """``postgresql://…`` / ``postgres://…`` / ``postgresql+asyncpg://…`` -> the asyncpg form.

    Raises ``ValueError`` (without echoing the URL: it may hold a password) for anything that
    is not a PostgreSQL URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("not a URL (expected postgresql://user@host:port/database)") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError("must be a PostgreSQL URL (postgresql:// or postgresql+asyncpg://)")
    if parsed.drivername not in ("postgresql", "postgres", ASYNC_DRIVER):
        raise ValueError(f"unsupported driver {parsed.drivername!r}; use postgresql://")
    return parsed.set(drivername=ASYNC_DRIVER).render_as_string(hide_password=False)


def libpq_url(url: str, *, hide_password: bool = True) -> str:
    """The libpq form (what psql and pg_dump take), password masked unless asked otherwise."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=hide_password)
