"""`chain_places`: the one chain-joining rule (docs/rules.md §4.1) that milestones and intake's risk flags share."""

from datetime import date

from shared.sickleave.chain import Span, chain_places


def places(*spans: Span, break_days: int = 90) -> list[tuple[str, int, tuple[str, ...]]]:
    return [(place.case.case_id, place.offset, place.earlier_case_ids) for place in chain_places(spans, break_days)]


def test_cases_are_placed_in_start_order_with_the_days_of_the_earlier_cases_of_their_chain():
    # a 31 days, b 20 days (28 days after a: joins), c after b by 41 days: joins, offset 31 + 20.
    c = Span("c", date(2026, 5, 1), date(2026, 5, 10))
    a = Span("a", date(2026, 1, 1), date(2026, 1, 31))
    b = Span("b", date(2026, 3, 1), date(2026, 3, 20))
    assert places(c, a, b) == [("a", 0, ()), ("b", 31, ("a",)), ("c", 51, ("a", "b"))]


def test_89_days_between_join_and_90_days_between_break():
    a = Span("a", date(2026, 1, 1), date(2026, 1, 10))
    # 10 Apr - 10 Jan - 1 = 89 days between; 11 Apr: 90
    assert places(a, Span("b", date(2026, 4, 10), date(2026, 4, 30)))[1] == ("b", 10, ("a",))
    assert places(a, Span("b", date(2026, 4, 11), date(2026, 4, 30)))[1] == ("b", 0, ())


def test_the_break_is_a_parameter_and_no_cases_give_no_places():
    a = Span("a", date(2026, 1, 1), date(2026, 1, 10))
    b = Span("b", date(2026, 1, 16), date(2026, 1, 20))  # 5 days between
    assert places(a, b, break_days=5)[1] == ("b", 0, ())
    assert places(a, b, break_days=6)[1] == ("b", 10, ("a",))
    assert places() == []
