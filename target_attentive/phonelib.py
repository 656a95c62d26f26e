"""The phone number library: rphonenumbers when installed, else phonenumbers.

Parsing and validating phones is the largest part of the per-record CPU (about half of a
dry run). rphonenumbers runs libphonenumber's rules in Rust behind phonenumbers' own API;
it comes with the `fast` extra (`pip install 'target-attentive[fast]'`). phonenumbers
stays the default and the reference: `tests/test_phonelib.py` checks that both give the
same E.164 or the same refusal for every region's example numbers in several written
forms, and for invalid ones. `TARGET_ATTENTIVE_PHONES=phonenumbers` forces the reference.
"""

from __future__ import annotations

import os
from types import ModuleType


def _load() -> tuple[ModuleType, str]:
    if os.environ.get("TARGET_ATTENTIVE_PHONES", "") != "phonenumbers":
        try:
            import rphonenumbers

            return rphonenumbers, "rphonenumbers"
        except ImportError:
            pass
    import phonenumbers

    return phonenumbers, "phonenumbers"


phonenumbers, IMPLEMENTATION = _load()
