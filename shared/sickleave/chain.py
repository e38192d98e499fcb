"""Joined sick-leave history (SFB 27 kap. 51 §, docs/rules.md §4.1): which of one patient's cases form a chain.

Pure. Cases belong to one chain while fewer than `break_days` days lie between one case's end and
the next case's start (`next.start - prev.end - 1 < break_days`). A case's offset is the sum of
`(end - start + 1)` over the earlier cases of its chain. Milestones (chain days, checkpoints) and
intake (the LONG_CASE risk flag) both place cases with this one function.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Generic, NamedTuple, Protocol, TypeVar


class CaseSpan(Protocol):
    """Anything with a case id and an inclusive date span: a SickLeaveCase, a ChainCase, a `Span`."""

    @property
    def case_id(self) -> str: ...

    @property
    def start(self) -> date: ...

    @property
    def end(self) -> date: ...


class Span(NamedTuple):
    case_id: str
    start: date
    end: date


SpanT = TypeVar("SpanT", bound=CaseSpan)


@dataclass(frozen=True)
class ChainPlace(Generic[SpanT]):
    case: SpanT
    offset: int
    earlier_case_ids: tuple[str, ...]

    @property
    def starts_chain(self) -> bool:
        return not self.earlier_case_ids


def span_days(case: CaseSpan) -> int:
    return (case.end - case.start).days + 1


def chain_places(cases: Iterable[SpanT], break_days: int) -> tuple[ChainPlace[SpanT], ...]:
    """Every case with its offset and the earlier cases of its chain, in chain order (start, end, case id)."""
    places: list[ChainPlace[SpanT]] = []
    chain: list[SpanT] = []
    offset = 0
    chain_end = date.min
    for case in sorted(cases, key=lambda candidate: (candidate.start, candidate.end, candidate.case_id)):
        if not places or (case.start - chain_end).days - 1 >= break_days:
            chain, offset = [], 0
        places.append(ChainPlace(case=case, offset=offset, earlier_case_ids=tuple(earlier.case_id for earlier in chain)))
        # Cases of one patient do not overlap, but the largest end keeps the chain honest if they did.
        chain_end = max(chain_end, case.end)
        chain.append(case)
        offset += span_days(case)
    return tuple(places)
