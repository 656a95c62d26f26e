"""People: the digest of the last payload Attentive accepted for each person key, and the
person key each identifier value was last accepted with."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_attentive.ledger.engine import Database
from target_attentive.ledger.pairs import PairStore, last_wins
from target_attentive.ledger.schema import identifier_owners, people

__all__ = ["IdentifierStore", "PeopleStore", "last_wins"]


class PeopleStore(PairStore):
    """SQL on `people`, so that reruns skip who was delivered unchanged."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, people, "person_key", "payload_hash")

    def last_hashes(self, conn: Connection, keys: list[str]) -> dict[str, str]:
        return self.lookup(conn, keys)

    def forget(self, conn: Connection, keys: list[str]) -> int:
        removed = 0
        for condition in self.db.where_in(people.c.person_key, keys):
            removed += conn.execute(sa.delete(people).where(condition)).rowcount
        return removed

    def forget_if_unchanged(self, conn: Connection, rows: list[tuple[str, str]]) -> int:
        """Forget keys whose digest is still the given one: a newer payload stays known."""
        removed = 0
        columns = (people.c.person_key, people.c.payload_hash)
        for condition in self.db.tuples_in(columns, rows):
            removed += conn.execute(sa.delete(people).where(condition)).rowcount
        return removed


class IdentifierStore(PairStore):
    """SQL on `identifier_owners`: a value last sent with another person is shared."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, identifier_owners, "identity_key", "person_key")

    def forget_person(self, conn: Connection, key: str) -> int:
        """Drop the values owned by this person key."""
        query = sa.delete(identifier_owners).where(identifier_owners.c.person_key == key)
        return conn.execute(query).rowcount
