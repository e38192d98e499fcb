"""Milestones' rules are configured through the environment (REKO_MILESTONES_RULES__...)."""

import json

import pytest
from pydantic import ValidationError

from services.milestones.rehabkedja import DEFAULT_CHECKPOINTS
from services.milestones.settings import MilestonesSettings
from shared.contracts.milestones import MilestoneKind


def test_lead_days_plan_texts_and_max_gap_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("REKO_MILESTONES_RULES__LEAD_DAYS", "21")
    monkeypatch.setenv("REKO_MILESTONES_RULES__PLAN_TITLE", "Plan för återgång i arbete")
    monkeypatch.setenv("REKO_MILESTONES_RULES__PLAN_LEGAL_REFERENCE", "SFB 30 kap. 6 § (2026)")
    monkeypatch.setenv("REKO_MILESTONES_MAX_GAP", "7")
    settings = MilestonesSettings()
    assert (settings.rules.lead_days, settings.rules.plan_title, settings.rules.plan_legal_reference) == (
        21,
        "Plan för återgång i arbete",
        "SFB 30 kap. 6 § (2026)",
    )
    assert settings.max_gap == 7
    assert settings.rules.checkpoints == DEFAULT_CHECKPOINTS


def test_checkpoint_days_names_and_legal_references_come_from_the_environment(monkeypatch):
    checkpoints = [
        {"kind": "CHAIN_DAY_90", "chain_day": 91, "title": "Dag 91", "legal_reference": "SFB 27 kap. 46 §"},
        {"kind": "CHAIN_DAY_180", "chain_day": 181, "title": "Dag 181", "legal_reference": "SFB 27 kap. 47 §"},
    ]
    monkeypatch.setenv("REKO_MILESTONES_RULES__CHECKPOINTS", json.dumps(checkpoints))
    configured = MilestonesSettings().rules.checkpoints
    assert [(c.kind, c.chain_day, c.title, c.legal_reference) for c in configured] == [
        (MilestoneKind.CHAIN_DAY_90, 91, "Dag 91", "SFB 27 kap. 46 §"),
        (MilestoneKind.CHAIN_DAY_180, 181, "Dag 181", "SFB 27 kap. 47 §"),
    ]


@pytest.mark.parametrize(
    "kinds",
    [("CHAIN_DAY_90", "CHAIN_DAY_90"), ("RETURN_TO_WORK_PLAN",)],
    ids=["a kind twice", "the plan as a checkpoint"],
)
def test_a_checkpoint_list_that_would_mix_up_milestones_is_refused(monkeypatch, kinds):
    checkpoints = [{"kind": kind, "chain_day": 90 + index, "title": "t", "legal_reference": "r"} for index, kind in enumerate(kinds)]
    monkeypatch.setenv("REKO_MILESTONES_RULES__CHECKPOINTS", json.dumps(checkpoints))
    with pytest.raises(ValidationError):
        MilestonesSettings()
