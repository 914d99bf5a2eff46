"""The pure thread rules (relay/threads.py), case by case: who removes whom, who grants, and
what a removed or revoked member may still post. The same rules run over sockets in
tests/relay/test_authority.py."""

from __future__ import annotations

import os

import pytest

from keys.grant import make_grant
from relay.errors import (
    BudgetSpentError,
    ConflictError,
    NotAllowedError,
    RevokedError,
    UnprocessableError,
)
from relay.threads import MemberState, check_envelope, check_grant, check_removal
from tests.relay.api_support import Person, seal_to

CREATOR, CO, PERF, GONE = (os.urandom(32) for _ in range(4))


def _members(**changes: MemberState) -> dict[bytes, MemberState]:
    members = {
        CREATOR: MemberState(CREATOR, "ic", frozenset(), creator=True),
        CO: MemberState(CO, "ic", frozenset()),
        PERF: MemberState(PERF, "performer", frozenset()),
        GONE: MemberState(GONE, "performer", frozenset(), removed_after=3),
    }
    members.update({m.identity_key: m for m in changes.values()})
    return members


@pytest.mark.parametrize(
    ("actor", "target", "error"),
    [
        (CREATOR, CO, None),
        (CREATOR, PERF, None),
        (CO, PERF, None),
        (PERF, PERF, None),  # anyone may leave
        (CO, CO, None),
        (CREATOR, CREATOR, ConflictError),  # the creator cannot leave
        (CO, CREATOR, NotAllowedError),  # nobody removes the creator
        (PERF, CO, NotAllowedError),
        (PERF, CREATOR, NotAllowedError),
        (GONE, PERF, NotAllowedError),  # a removed member removes nobody
    ],
)
def test_who_may_remove_whom(actor: bytes, target: bytes, error: type[Exception] | None) -> None:
    if error is None:
        check_removal(_members(), actor, target)
    else:
        with pytest.raises(error):
            check_removal(_members(), actor, target)


def test_a_co_coordinator_cannot_remove_another_and_a_revoked_one_coordinates_nothing() -> None:
    other = os.urandom(32)
    members = _members(x=MemberState(other, "ic", frozenset()))
    with pytest.raises(NotAllowedError, match="creator"):
        check_removal(members, CO, other)
    revoked = _members(x=MemberState(CO, "ic", frozenset(), revoked=True))
    with pytest.raises(NotAllowedError):
        check_removal(revoked, CO, PERF)


def test_only_the_creator_grants() -> None:
    ines, ana = Person.new("Ines", "ic"), Person.new("Ana", "performer")
    thread = os.urandom(16)
    members = {
        ines.identity: MemberState(ines.identity, "ic", frozenset(), creator=True),
        ana.identity: MemberState(ana.identity, "performer", frozenset()),
        CO: MemberState(CO, "ic", frozenset()),
    }
    grant = make_grant(ines.key, thread=thread, grantee=ana.identity, role="ic", issued_at=1)
    assert check_grant(members, ines.identity, grant, thread).identity_key == ana.identity
    with pytest.raises(NotAllowedError):
        check_grant(members, ana.identity, grant, thread)  # not signed by the caller
    by_co = make_grant(ana.key, thread=thread, grantee=ana.identity, role="ic", issued_at=1)
    members[ana.identity] = MemberState(ana.identity, "ic", frozenset())
    with pytest.raises(NotAllowedError, match="cannot grant"):
        check_grant(members, ana.identity, by_co, thread)
    with pytest.raises(UnprocessableError):
        check_grant(members, ines.identity, grant, os.urandom(16))


def test_a_removed_member_posts_only_to_the_coordinators_within_the_budget() -> None:
    ines, ana, ben = (Person.new(n, "performer") for n in ("Ines", "Ana", "Ben"))
    thread = os.urandom(16)

    def state(p: Person, role: str = "performer", **kw: object) -> MemberState:
        return MemberState(p.identity, role, frozenset({p.device.public}), **kw)  # type: ignore[arg-type]

    members = {
        ines.identity: state(ines, "ic", creator=True),
        ana.identity: state(ana, removed_after=2, posts_after_removal=1),
        ben.identity: state(ben),
    }
    to_ic = seal_to(ana, thread, [ines], None)
    check_envelope(to_ic, caller=ana.identity, thread_id=thread, members=members, removed_budget=2)
    with pytest.raises(UnprocessableError, match="coordinators"):
        wide = seal_to(ana, thread, [ines, ben], None)
        check_envelope(
            wide, caller=ana.identity, thread_id=thread, members=members, removed_budget=2
        )
    with pytest.raises(BudgetSpentError):
        check_envelope(
            to_ic, caller=ana.identity, thread_id=thread, members=members, removed_budget=1
        )
    members[ana.identity] = state(ana, revoked=True)
    with pytest.raises(RevokedError):
        check_envelope(
            to_ic, caller=ana.identity, thread_id=thread, members=members, removed_budget=2
        )
