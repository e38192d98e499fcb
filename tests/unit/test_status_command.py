"""`reko status`, `GET /status`'s arithmetic, and `--wait` on `reko publish`."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from typer.testing import CliRunner

from reko import cli
from reko.status import EXIT_NOT_CAUGHT_UP, service_urls
from shared.status import group_lag

runner = CliRunner()


def test_a_groups_lag_is_the_end_minus_the_committed_offset_summed_over_partitions():
    ends = {TopicPartition("t", 0): 10, TopicPartition("t", 1): 7, TopicPartition("t", 2): 5, TopicPartition("other", 0): 99}
    committed = {TopicPartition("t", 0): 10, TopicPartition("t", 1): 3, TopicPartition("t", 2): None}
    starts = {TopicPartition("t", 2): 1}
    lag = group_lag("g", ends, starts, committed, ["t"])
    assert lag.lag == 0 + 4 + 4  # nothing committed on partition 2: everything after its start is lag
    assert [(p.partition, p.lag) for p in lag.topics[0].partitions] == [(0, 0), (1, 4), (2, 4)]
    assert lag.model_dump(by_alias=True)["topics"][0]["partitions"][2] == {"partition": 2, "end": 5, "committed": None, "lag": 4}


def test_a_committed_offset_past_the_reported_end_is_no_lag():
    lag = group_lag("g", {TopicPartition("t", 0): 5}, {}, {TopicPartition("t", 0): 6}, ["t"])
    assert lag.lag == 0


def test_every_instance_is_read_from_the_state_file_and_an_older_file_names_one_per_service():
    assert service_urls({"services": {"stats": "http://s1", "intake": "http://i1"}}) == {"intake": ("http://i1",), "stats": ("http://s1",)}
    state = {"services": {"intake": "http://i1"}, "instances": {"intake": ["http://i1", "http://i2"]}}
    assert service_urls(state) == {"intake": ("http://i1", "http://i2")}


def _status(service: str, *, lag: int = 0, backlog: int = 0, dead: int = 0) -> dict[str, Any]:
    topic = {"intake": "sickleave.certificates.v1", "stats": "sickleave.cases.v1"}[service]
    return {
        "service": service,
        "consumerGroups": [
            {"group": f"reko.{service}", "lag": lag, "topics": [{"topic": topic, "lag": lag, "partitions": []}]},
        ],
        "outboxBacklog": backlog,
        "deadLetters": [{"topic": f"{topic}.dlq", "records": dead}],
        "deadLetterCount": dead,
        "caughtUp": lag == 0 and backlog == 0,
    }


@pytest.fixture
def stack_state(tmp_path: Path) -> Path:
    state = {
        "bootstrapServers": "127.0.0.1:1",
        "topics": {"certificates": "sickleave.certificates.v1"},
        "services": {"intake": "http://intake-1", "stats": "http://stats-1"},
        "instances": {"intake": ["http://intake-1", "http://intake-2"], "stats": ["http://stats-1"]},
    }
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(state))
    return path


def _serve(monkeypatch: pytest.MonkeyPatch, answer: Any) -> list[str]:
    """Route the command's HTTP calls to `answer(url)` -> (status code, body); returns the URLs asked."""
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        code, body = answer(str(request.url))
        if code is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(code, json=body)

    monkeypatch.setattr(httpx, "AsyncClient", functools.partial(httpx.AsyncClient, transport=httpx.MockTransport(handle)))
    return asked


def test_status_as_json_reports_each_service_once_whichever_instance_answered(monkeypatch, stack_state):
    statuses = {"http://intake-2/status": (200, _status("intake", lag=120, dead=3)), "http://stats-1/status": (200, _status("stats"))}
    _serve(monkeypatch, lambda url: statuses.get(url, (None, None)))
    result = runner.invoke(cli.app, ["status", "--state-file", str(stack_state), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["caughtUp"] is False
    intake = report["services"]["intake"]
    assert (intake["instances"], intake["instancesUp"], intake["consumerGroups"][0]["lag"], intake["deadLetterCount"]) == (2, 1, 120, 3)
    assert report["services"]["stats"]["caughtUp"] is True


def test_status_prints_a_table_of_groups_topics_and_backlogs(monkeypatch, stack_state):
    _serve(monkeypatch, lambda url: (200, _status(url.split("//")[1].split("-")[0], backlog=2)))
    result = runner.invoke(cli.app, ["status", "--state-file", str(stack_state)])
    assert result.exit_code == 0, result.output
    assert "Pipeline behind" in result.output
    assert "reko.intake" in result.output and "sickleave.certificates.v1" in result.output


def test_status_exits_1_when_no_instance_of_a_service_answers(monkeypatch, stack_state):
    _serve(monkeypatch, lambda url: (200, _status("intake")) if "intake" in url else (503, {"service": "stats", "error": "KafkaConnectionError"}))
    result = runner.invoke(cli.app, ["status", "--state-file", str(stack_state), "--json"])
    assert result.exit_code == 1
    assert "answered 503 (KafkaConnectionError)" in json.loads(result.output)["services"]["stats"]["error"]


def test_status_needs_the_state_file_of_a_stack(tmp_path):
    result = runner.invoke(cli.app, ["status", "--state-file", str(tmp_path / "missing.json")])
    assert result.exit_code == 2
    assert "needs the state file" in result.output


def _no_broker_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def publish_lines(servers: str, topic: str, lines: Any) -> int:
        return len(list(lines))

    monkeypatch.setattr("reko.publish.publish_lines", publish_lines)


def test_publish_with_wait_returns_once_the_pipeline_has_caught_up(monkeypatch, stack_state, tmp_path):
    _no_broker_needed(monkeypatch)
    passes = {"count": 0}

    def answer(url: str) -> tuple[int, dict[str, Any]]:
        passes["count"] += 1
        service = url.split("//")[1].split("-")[0]
        return 200, _status(service, lag=5 if passes["count"] < 6 else 0)

    _serve(monkeypatch, answer)
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"id": 1}\n{"id": 2}\n')
    result = runner.invoke(cli.app, ["publish", str(feed), "--state-file", str(stack_state), "--wait", "--wait-timeout", "30"])
    assert result.exit_code == 0, result.output
    assert "published 2 records" in result.output and "pipeline caught up" in result.output


def test_publish_with_wait_exits_3_when_the_pipeline_does_not_catch_up_in_time(monkeypatch, stack_state, tmp_path):
    _no_broker_needed(monkeypatch)
    _serve(monkeypatch, lambda url: (200, _status(url.split("//")[1].split("-")[0], backlog=7)))
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"id": 1}\n')
    result = runner.invoke(cli.app, ["publish", str(feed), "--state-file", str(stack_state), "--wait", "--wait-timeout", "1"])
    assert result.exit_code == EXIT_NOT_CAUGHT_UP == 3
    assert "not caught up after 1 s: intake: lag 0, outbox 7" in result.output


def test_publish_with_wait_needs_a_stack_to_ask(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"id": 1}\n')
    result = runner.invoke(
        cli.app, ["publish", str(feed), "--bootstrap-servers", "127.0.0.1:1", "--state-file", str(tmp_path / "none.json"), "--wait"]
    )
    assert result.exit_code == 2
    assert "needs the state file" in result.output


def test_publish_of_a_missing_file_is_a_usage_error_naming_it(tmp_path):
    result = runner.invoke(cli.app, ["publish", str(tmp_path / "missing.jsonl"), "--state-file", str(tmp_path / "none.json")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_a_wait_shorter_than_three_readings_is_refused(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"id": 1}\n')
    result = runner.invoke(cli.app, ["publish", str(feed), "--state-file", str(tmp_path / "none.json"), "--wait", "--wait-timeout", "0.5"])
    assert result.exit_code == 2
    assert "--wait-timeout" in result.output
