"""owners.IdentifierOwners: the ledger's owners, overlaid by batches still out."""

from __future__ import annotations

from pathlib import Path

from target_attentive.ledger import Ledger
from target_attentive.owners import IdentifierOwners


def test_batches_out_overlay_the_ledger_until_they_settle(tmp_path: Path) -> None:
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.record_accepted([("email:a@x.co", "h")], [("phone:+1", "email:a@x.co")])
        owners = IdentifierOwners(ledger)
        ids = [{"phone": "+1"}, {"email": "b@x.co"}]
        assert owners.of(ids) == {"phone:+1": "email:a@x.co"}
        owners.submitted(1, [("email:b@x.co", {"email": "b@x.co", "phone": "+1"})])
        owners.submitted(2, [("email:c@x.co", {"email": "c@x.co", "phone": "+1"})])
        assert owners.of(ids) == {"phone:+1": "email:c@x.co", "email:b@x.co": "email:b@x.co"}
        owners.settled(2)
        assert owners.of(ids)["phone:+1"] == "email:b@x.co"
        owners.settled(1)
        assert owners.of(ids) == {"phone:+1": "email:a@x.co"}, "refused or not, back to ledger"


def test_without_a_ledger_only_the_batches_out_count() -> None:
    owners = IdentifierOwners(None)
    assert owners.of([{"phone": "+1"}]) == {}
    owners.submitted(7, [("phone:+1", {"phone": "+1"})])
    assert owners.of([{"phone": "+1"}]) == {"phone:+1": "phone:+1"}


def test_a_later_batch_out_carrying_a_person_is_known() -> None:
    owners = IdentifierOwners(None)
    owners.submitted(3, [("email:a@x.co", {"email": "a@x.co"})])
    owners.submitted(4, [("email:b@x.co", {"email": "b@x.co"})])
    assert owners.later(3, "email:b@x.co") and not owners.later(3, "email:a@x.co")
    assert not owners.later(4, "email:b@x.co")


def test_a_ledger_that_does_not_exist_yet_finds_nothing_but_batches_out_count(
    tmp_path: Path,
) -> None:
    """A dry run on a fresh ledger skips the lookup; the overlay still answers."""
    from target_attentive.ledger import ReadOnlyLedger

    with ReadOnlyLedger(f"sqlite:///{tmp_path / 'missing.db'}") as ledger:
        assert ledger.absent
        owners = IdentifierOwners(ledger)
        assert owners.unknown and owners.of([{"phone": "+1"}]) == {}
        owners.submitted(1, [("email:a@x.co", {"email": "a@x.co", "phone": "+1"})])
        assert not owners.unknown
        assert owners.of([{"phone": "+1"}]) == {"phone:+1": "email:a@x.co"}
    assert not (tmp_path / "missing.db").exists()
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        assert not ledger.absent and not IdentifierOwners(ledger).unknown
