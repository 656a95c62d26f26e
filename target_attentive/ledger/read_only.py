"""A ledger that is read and never written: for dry runs and the ledger command's listings.

Its claims are remembered in memory (`memory.py`); a ledger that does not exist yet reads
as empty and is not created.
"""

from __future__ import annotations

from target_attentive.ledger.base import LedgerBase
from target_attentive.ledger.memory import MemoryClaims


class ReadOnlyLedger(MemoryClaims, LedgerBase):
    """The reads of a ledger; claims in memory; every other write does nothing."""
