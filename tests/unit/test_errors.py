"""Problem details keep RFC 9457's members to themselves: an error's extension members
may not reuse their names, so `status` is always the HTTP status."""

from __future__ import annotations

import pytest

from exam_service.errors import PROBLEM_MEMBERS, Conflict, InvalidInput


@pytest.mark.parametrize("member", sorted(PROBLEM_MEMBERS))
def test_an_extension_may_not_take_a_members_name(member: str) -> None:
    with pytest.raises(ValueError, match=f"'{member}'.*name them after what they are"):
        Conflict("attempt 3 is closed", extra={member: "expired"})


def test_extensions_with_their_own_names_are_kept() -> None:
    error = InvalidInput("2 rows are wrong", extra={"errors": ["row 1", "row 2"]})
    assert error.extra == {"errors": ["row 1", "row 2"]}
    assert Conflict("closed", extra={"attempt_status": "expired"}).extra["attempt_status"]
