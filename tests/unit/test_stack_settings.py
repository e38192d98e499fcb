"""`reko stack`: service settings from `--set` and the environment, and several instances per service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reko.stack import InvalidServiceSetting, ServiceProcess, Stack, StackSettings, anchored_clock, parse_service_setting


def test_a_setting_names_the_service_and_its_settings_field():
    assert parse_service_setting("intake.max_gap=7") == ("intake", "REKO_INTAKE_MAX_GAP", "7")
    assert parse_service_setting("stats.log_level=DEBUG") == ("stats", "REKO_STATS_LOG_LEVEL", "DEBUG")


def test_a_nested_setting_takes_a_dot_per_level():
    assert parse_service_setting("milestones.rules.lead_days=21") == ("milestones", "REKO_MILESTONES_RULES__LEAD_DAYS", "21")
    assert parse_service_setting("intake.risk_flags.weights.FMB_EXCEEDED=4") == (
        "intake",
        "REKO_INTAKE_RISK_FLAGS__WEIGHTS__FMB_EXCEEDED",
        "4",
    )


def test_the_value_may_itself_hold_an_equals_sign():
    assert parse_service_setting("intake.auth.issuer=urn:a=b")[2] == "urn:a=b"


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("intake.max_gap", "expected service.setting=value"),
        ("max_gap=7", "expected service.setting=value"),
        ("triage.max_gap=7", "unknown service 'triage'"),
        ("intake.max_gapp=7", "intake has no setting max_gapp"),
        ("intake.max_gap.days=7", "has no parts to set"),
    ],
)
def test_a_malformed_or_unknown_setting_is_refused_with_the_reason(assignment, complaint):
    with pytest.raises(InvalidServiceSetting, match=complaint):
        parse_service_setting(assignment)


def test_a_setting_one_level_too_shallow_is_answered_with_its_full_name():
    with pytest.raises(InvalidServiceSetting, match=r"did you mean milestones\.rules\.lead_days"):
        parse_service_setting("milestones.lead_days=21")


@pytest.mark.parametrize(
    "setting",
    ["http_port", "database_url", "kafka_bootstrap_servers", "clock", "topics.prefix", "auth.jwt_secret", "pseudonym_key", "identity_keys"],
)
def test_what_the_stack_decides_itself_cannot_be_set(setting):
    with pytest.raises(InvalidServiceSetting, match="the stack's own"):
        parse_service_setting(f"intake.{setting}=x")


def _stack(**settings: Any) -> Stack:
    stack = Stack(StackSettings(pseudonym_key="k" * 32, jwt_secret="s" * 32, **settings))
    stack.bootstrap_servers, stack.database_url = "127.0.0.1:9092", "postgresql://postgres@127.0.0.1/reko"
    return stack


def test_the_environments_reko_variables_reach_the_services(monkeypatch):
    monkeypatch.setenv("REKO_INTAKE_MAX_GAP", "6")
    monkeypatch.setenv("REKO_MILESTONES_RULES__LEAD_DAYS", "21")
    env = _stack().service_env("intake", 41001)
    assert env["REKO_INTAKE_MAX_GAP"] == "6"
    assert env["REKO_MILESTONES_RULES__LEAD_DAYS"] == "21"  # milestones' own: intake ignores it


def test_set_wins_over_the_environment_and_the_stack_wins_over_both(monkeypatch):
    monkeypatch.setenv("REKO_INTAKE_MAX_GAP", "6")
    monkeypatch.setenv("REKO_INTAKE_HTTP_PORT", "9999")
    env = _stack(service_settings={"intake": {"REKO_INTAKE_MAX_GAP": "7"}}).service_env("intake", 41001)
    assert env["REKO_INTAKE_MAX_GAP"] == "7"
    assert env["REKO_INTAKE_HTTP_PORT"] == "41001"
    assert env["REKO_INTAKE_PSEUDONYM_KEY"] == "k" * 32


def test_the_stack_gives_intake_and_notifications_one_identity_key_and_notifications_its_own_storage_key():
    stack = _stack()
    intake, notifications, stats = (stack.service_env(name, 41001) for name in ("intake", "notifications", "stats"))
    assert intake["REKO_INTAKE_IDENTITY_KEYS"] == notifications["REKO_NOTIFICATIONS_IDENTITY_KEYS"] == stack.settings.identity_key
    assert notifications["REKO_NOTIFICATIONS_IDENTITY_STORAGE_KEYS"] == stack.settings.identity_storage_key != stack.settings.identity_key
    assert "REKO_INTAKE_IDENTITY_STORAGE_KEYS" not in intake
    assert not any("IDENTITY" in name for name in stats)
    assert stack.settings.identity_key not in json.dumps(stack.describe())


def test_the_environment_can_be_kept_from_the_services(monkeypatch):
    monkeypatch.setenv("REKO_INTAKE_MAX_GAP", "6")
    assert "REKO_INTAKE_MAX_GAP" not in _stack(pass_environment=False).service_env("intake", 41001)


def test_a_value_the_service_would_refuse_stops_the_stack_before_it_starts():
    stack = _stack(service_settings={"milestones": {"REKO_MILESTONES_RULES__LEAD_DAYS": "-1"}})
    with pytest.raises(InvalidServiceSetting, match=r"milestones: rules\.lead_days: Input should be greater than or equal to 0"):
        stack.check_settings()


def test_the_defaults_pass_the_services_own_checks():
    _stack().check_settings()


def test_the_state_file_lists_every_instance_and_keeps_the_first_as_the_service(tmp_path: Path):
    stack = _stack(instances=2)
    for name, ports in {"intake": (41001, 41002), "stats": (41003, 41004)}.items():
        stack.instances[name] = [ServiceProcess(name, port, {}, tmp_path / f"{port}.log") for port in ports]
    described = stack.describe()
    assert described["services"] == {"intake": "http://127.0.0.1:41001", "stats": "http://127.0.0.1:41003"}
    assert described["instances"] == {
        "intake": ["http://127.0.0.1:41001", "http://127.0.0.1:41002"],
        "stats": ["http://127.0.0.1:41003", "http://127.0.0.1:41004"],
    }
    assert stack.services["intake"].port == 41001


def test_a_stack_has_at_least_one_instance_of_each_service():
    with pytest.raises(ValueError, match="at least one"):
        Stack(StackSettings(instances=0))


def test_a_simulated_clock_is_anchored_once_for_every_process_of_the_stack():
    spec = anchored_clock("simulated:2026-03-01T08:00:00+01:00*3600", now=1_790_000_000.0)
    assert spec == "simulated:2026-03-01T08:00:00+01:00*3600@1790000000.000"
    env = _stack(clock="simulated:2026-03-01T08:00:00+01:00*3600").service_env("milestones", 41001)
    assert "@" in env["REKO_MILESTONES_CLOCK"]


def test_fixed_system_and_anchored_clocks_are_left_as_they_are():
    for spec in ("system", "fixed:2026-06-15T12:00:00+02:00", "simulated:2026-03-01T08:00:00+01:00*60@1790000000"):
        assert anchored_clock(spec, now=1.0) == spec
