"""Storage: one contract (`Store`), one module per backend."""

from __future__ import annotations

from ..errors import InvalidInputError
from ..settings import Settings
from ._base import Damage, Store


def open_store(settings: Settings) -> Store:
    url = settings.database_url.strip()
    if not url:
        from .tinydb import TinyDBStore

        return TinyDBStore(settings.home)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from .postgres import PostgresStore
        except ImportError as exc:
            raise InvalidInputError(
                f"AGIO_DATABASE_URL points at PostgreSQL, which needs the {exc.name or 'psycopg'} "
                "package: pip install 'agio[postgres]' (psycopg[binary] and psycopg-pool)"
            ) from None
        store: Store = PostgresStore(url)
        return store
    raise InvalidInputError(
        "AGIO_DATABASE_URL must be empty (embedded TinyDB) or a postgresql:// URL"
    )


__all__ = ["Damage", "Store", "open_store"]
