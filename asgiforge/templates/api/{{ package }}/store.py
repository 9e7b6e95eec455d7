"""Items in one SQLite file through the standard library.

Every method blocks (sqlite3 does), so the app calls them through `run_in_threadpool`; each call
opens its own connection, which keeps the store safe to use from any worker thread.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any


class ItemNotFoundError(LookupError):
    """No item has the requested id."""


class ItemStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=5)
        connection.row_factory = sqlite3.Row
        return connection

    def create_schema(self) -> None:
        with closing(self._connect()) as connection, connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS items ("
                " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " name TEXT NOT NULL,"
                " done INTEGER NOT NULL DEFAULT 0)"
            )

    def ping(self) -> bool:
        """True when the database answers: the readiness check."""
        try:
            with closing(self._connect()) as connection:
                connection.execute("SELECT 1 FROM items LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    def list_items(self) -> list[dict[str, Any]]:
        with closing(self._connect()) as connection:
            rows = connection.execute("SELECT id, name, done FROM items ORDER BY id").fetchall()
        return [_to_dict(row) for row in rows]

    def get(self, item_id: int) -> dict[str, Any]:
        with closing(self._connect()) as connection:
            row = connection.execute(
                "SELECT id, name, done FROM items WHERE id = ?", (item_id,)
            ).fetchone()
        if row is None:
            raise ItemNotFoundError(item_id)
        return _to_dict(row)

    def create(self, name: str, done: bool) -> dict[str, Any]:
        with closing(self._connect()) as connection, connection:
            cursor = connection.execute(
                "INSERT INTO items (name, done) VALUES (?, ?)", (name, int(done))
            )
            item_id = cursor.lastrowid
        return {"id": item_id, "name": name, "done": done}

    def update(self, item_id: int, name: str, done: bool) -> dict[str, Any]:
        with closing(self._connect()) as connection, connection:
            cursor = connection.execute(
                "UPDATE items SET name = ?, done = ? WHERE id = ?", (name, int(done), item_id)
            )
        if cursor.rowcount == 0:
            raise ItemNotFoundError(item_id)
        return {"id": item_id, "name": name, "done": done}

    def delete(self, item_id: int) -> None:
        with closing(self._connect()) as connection, connection:
            cursor = connection.execute("DELETE FROM items WHERE id = ?", (item_id,))
        if cursor.rowcount == 0:
            raise ItemNotFoundError(item_id)


def _to_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "done": bool(row["done"])}
