"""coalesce.group_people: records are one person only when no identifier kind disagrees."""

from __future__ import annotations

from dataclasses import dataclass

from target_attentive.coalesce import group_people


@dataclass
class Rec:
    position: int
    payload: dict
    omissions: tuple = ()


def recs(*identifiers: dict, subs: dict[int, str] | None = None) -> list[Rec]:
    out = []
    for i, ids in enumerate(identifiers):
        payload: dict = {"identifiers": ids, "attributes": {"firstName": f"N{i}"}}
        if subs and i in subs:
            payload["subscriptions"] = [{"channel": subs[i], "signUpSourceId": "1"}]
        out.append(Rec(i + 1, payload))
    return out


P = "+12025550123"


def ids_of(grouping) -> list[dict]:
    return [g.payload["identifiers"] for g in grouping.groups]


def test_records_sharing_an_identifier_without_conflict_are_one_person() -> None:
    items = recs({"email": "a@x.co"}, {"email": "a@x.co", "phone": P}, {"phone": P})
    grouping = group_people(items)
    assert [[i.position for i in g.items] for g in grouping.groups] == [[1, 2, 3]]
    assert ids_of(grouping) == [{"email": "a@x.co", "phone": P}]
    assert grouping.groups[0].payload["attributes"] == {"firstName": "N2"}, "last one wins"
    assert grouping.omitted == grouping.rejected == {}


def test_a_household_is_two_people_without_the_shared_phone() -> None:
    items = recs({"email": "a@x.co", "phone": P}, {"email": "b@x.co", "phone": P}, subs={0: "TEXT"})
    grouping = group_people(items)
    assert ids_of(grouping) == [{"email": "a@x.co"}, {"email": "b@x.co"}]
    assert "subscriptions" not in grouping.groups[0].payload, "its phone was left out"
    assert [p.field for p in grouping.omitted[0]] == ["identifiers.phone", "subscriptions.TEXT"]
    assert [p.field for p in grouping.omitted[1]] == ["identifiers.phone"]
    assert items[0].payload["identifiers"] == {"email": "a@x.co", "phone": P}, "not edited"


def test_a_record_carrying_only_shared_values_is_rejected() -> None:
    items = recs({"email": "a@x.co", "phone": P}, {"email": "b@x.co", "phone": P}, {"phone": P})
    grouping = group_people(items)
    assert list(grouping.rejected) == [2]
    assert str(grouping.rejected[2][0]).startswith("identifiers: every identifier")
    assert [[i.position for i in g.items] for g in grouping.groups] == [[1], [2]]


def test_a_conflict_anywhere_in_the_chain_keeps_people_apart() -> None:
    items = recs(
        {"email": "a@x.co", "phone": P},
        {"phone": P, "clientUserId": "X"},
        {"email": "b@x.co", "clientUserId": "X"},
    )
    grouping = group_people(items)
    assert ids_of(grouping) == [{"email": "a@x.co", "phone": P}, {"email": "b@x.co"}]
    assert [p.field for p in grouping.omitted[1]] == ["identifiers.clientUserId"]
    assert [p.field for p in grouping.omitted[2]] == ["identifiers.clientUserId"]


def test_custom_identifiers_are_a_kind_each() -> None:
    loyal = [{"key": "loyalty", "value": "L1"}]
    items = recs(
        {"email": "a@x.co", "customIdentifiers": loyal},
        {"email": "b@x.co", "customIdentifiers": loyal},
    )
    grouping = group_people(items)
    assert ids_of(grouping) == [{"email": "a@x.co"}, {"email": "b@x.co"}]
    assert [p.field for p in grouping.omitted[0]] == ["identifiers.customIdentifiers.loyalty"]


def test_shared_identifiers_send_keeps_values_but_never_merges_across_a_conflict() -> None:
    items = recs({"email": "a@x.co", "phone": P}, {"email": "b@x.co", "phone": P})
    grouping = group_people(items, send_shared=True)
    assert ids_of(grouping) == [{"email": "a@x.co", "phone": P}, {"email": "b@x.co", "phone": P}]
    assert grouping.omitted == grouping.rejected == {}


def test_the_ledger_owner_of_a_value_counts_as_another_person() -> None:
    items = recs({"email": "b@x.co", "phone": P}, {"email": "c@x.co"})
    owners = {f"phone:{P}": "email:a@x.co", "email:c@x.co": "email:c@x.co"}
    grouping = group_people(items, owners=owners)
    assert ids_of(grouping) == [{"email": "b@x.co"}, {"email": "c@x.co"}]
    assert "last sent with another person" in grouping.omitted[0][0].message
    # The same person under a stronger key: its own identifier owns the value, no conflict.
    owners = {f"phone:{P}": "email:b@x.co"}
    items = recs({"email": "b@x.co", "phone": P, "clientUserId": "7"})
    assert ids_of(group_people(items, owners=owners)) == [items[0].payload["identifiers"]]


def test_a_ledger_owner_this_person_does_not_disagree_with_is_the_same_person() -> None:
    # Sent before as {email a, phone P}; a record with the phone alone, or with a key of a
    # kind the owner did not have, may be that person: nothing disagrees, nothing is left out.
    owners = {f"phone:{P}": "email:a@x.co"}
    for ids in ({"phone": P}, {"phone": P, "clientUserId": "9"}, {"phone": P, "email": "a@x.co"}):
        grouping = group_people(recs(ids), owners=owners)
        assert ids_of(grouping) == [ids]
        assert grouping.omitted == grouping.rejected == {}
    # One that disagrees loses the value; a record of the same person (in the batch) that
    # had only that value is rejected, whoever else it might be.
    owners = {f"phone:{P}": "clientUserId:1"}
    grouping = group_people(recs({"phone": P, "clientUserId": "2"}, {"phone": P}), owners=owners)
    assert ids_of(grouping) == [{"clientUserId": "2"}]
    assert list(grouping.rejected) == [1]
    items = recs(
        {"email": "z@x.co", "customIdentifiers": [{"key": "crm", "value": "1"}]},
    )
    grouping = group_people(items, owners={"email:z@x.co": "custom:crm=2"})
    assert ids_of(grouping) == [{"customIdentifiers": [{"key": "crm", "value": "1"}]}]
    assert grouping.omitted[0][0].field == "identifiers.email"
