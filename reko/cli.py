"""`reko`: run the whole system locally, feed it, and look at it."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="reko: sick-leave cases, rehabkedja milestones, alerts and statistics.", no_args_is_help=True)


def _wait_for_interrupt() -> None:
    stop = {"now": False}

    def request_stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        while not stop["now"]:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def _read_state(state_file: Path) -> dict[str, Any]:
    return json.loads(state_file.read_text()) if state_file.exists() else {}


def _service_settings(assignments: list[str]) -> dict[str, dict[str, str]]:
    from reko.stack import InvalidServiceSetting, parse_service_setting

    settings: dict[str, dict[str, str]] = {}
    for assignment in assignments:
        try:
            service, variable, value = parse_service_setting(assignment)
        except InvalidServiceSetting as problem:
            raise typer.BadParameter(str(problem), param_hint="--set") from None
        settings.setdefault(service, {})[variable] = value
    return settings


def _wait_for_pipeline(state: dict[str, Any], timeout: float) -> int:
    """After a publish: 0 once the pipeline has caught up, EXIT_NOT_CAUGHT_UP when `timeout` passed first."""
    from reko.status import EXIT_NOT_CAUGHT_UP, behind, service_urls, wait_until_caught_up

    started = time.monotonic()
    caught_up, report = asyncio.run(wait_until_caught_up(service_urls(state), within_seconds=timeout))
    if caught_up:
        typer.echo(f"pipeline caught up after {time.monotonic() - started:.1f} s")
        return 0
    # The last reading may have found it caught up without three in a row yet.
    still = behind(report) if not report.caught_up else "caught up in the last reading, not yet three readings in a row"
    typer.echo(f"pipeline not caught up after {timeout:g} s: {still}", err=True)
    return EXIT_NOT_CAUGHT_UP


def _require_services(state: dict[str, Any], option: str) -> None:
    if not state.get("services"):
        raise typer.BadParameter("needs the state file of `reko stack` (it names the services)", param_hint=option)


WaitOption = Annotated[bool, typer.Option("--wait", help="Then return only when every consumer group is at the end and every outbox is empty")]
# At least a second: caught up means three readings in a row, half a second apart.
WaitTimeoutOption = Annotated[float, typer.Option(min=1.0, help="Seconds --wait waits before giving up with exit code 3 (at least 1)")]


@app.command()
def stack(
    clock: Annotated[str, typer.Option(help="'system', 'fixed:<ISO time>' or 'simulated:<ISO time>*<speed>'")] = "system",
    state_file: Annotated[Path, typer.Option(help="Where to write the JSON naming servers and URLs")] = Path("stack.json"),
    kafka: Annotated[str | None, typer.Option(help="Use this broker instead of the embedded one")] = None,
    database_url: Annotated[str | None, typer.Option(help="Use this PostgreSQL server instead of the embedded one")] = None,
    log_dir: Annotated[Path, typer.Option()] = Path(".reko/logs"),
    instances: Annotated[int, typer.Option(min=1, max=8, help="Processes of each service, sharing the work through their consumer groups")] = 1,
    set_: Annotated[
        list[str],
        typer.Option(
            "--set",
            metavar="SERVICE.SETTING=VALUE",
            help="A service setting, e.g. intake.max_gap=7 or milestones.rules.lead_days=21 (REKO_<SERVICE>_<SETTING>); repeatable. "
            "REKO_* variables of the environment reach the services too; --set wins.",
        ),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
) -> None:
    """Start broker, database and the four services (no feed) until Ctrl-C."""
    from reko.stack import InvalidServiceSetting, Stack, StackSettings

    settings = StackSettings(
        clock=clock,
        kafka_bootstrap_servers=kafka,
        database_url=database_url,
        log_dir=log_dir,
        instances=instances,
        service_settings=_service_settings(set_),
    )
    try:
        running = Stack(settings).start()
    except InvalidServiceSetting as problem:
        raise typer.BadParameter(str(problem), param_hint="--set or REKO_*") from None
    try:
        running.write_state(state_file)
        typer.echo(json.dumps(running.describe(), indent=2))
        typer.echo(f"Wrote {state_file}. Logs in {log_dir}/. Ctrl-C stops everything.")
        _wait_for_interrupt()
    finally:
        running.stop()
        state_file.unlink(missing_ok=True)


@app.command()
def publish(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CloudEvents, one JSON object per line")],
    state_file: Annotated[Path, typer.Option(help="The JSON file `reko stack` wrote")] = Path("stack.json"),
    bootstrap_servers: Annotated[str | None, typer.Option(help="Overrides the state file")] = None,
    topic: Annotated[str | None, typer.Option(help="Overrides the state file")] = None,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 300.0,
) -> None:
    """Publish the lines of FILE to the certificate topic as they are, without validating them."""
    from reko.publish import publish_lines, read_lines

    state = _read_state(state_file)
    servers = bootstrap_servers or state.get("bootstrapServers")
    target = topic or state.get("topics", {}).get("certificates", "sickleave.certificates.v1")
    if not servers:
        raise typer.BadParameter("no broker: run `reko stack` first or pass --bootstrap-servers")
    if wait:
        _require_services(state, "--wait")
    count = asyncio.run(publish_lines(servers, target, read_lines(file)))
    typer.echo(f"published {count} records to {target}")
    if wait:
        raise typer.Exit(_wait_for_pipeline(state, wait_timeout))


@app.command()
def status(
    state_file: Annotated[Path, typer.Option(help="The JSON file `reko stack` wrote")] = Path("stack.json"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Show, per service, the lag of each consumer group per topic, the outbox backlog and the dead letters.

    Exit code 0 when every service answered, 1 when one did not.
    """
    from rich.console import Console

    from reko.status import read_pipeline, service_urls, status_table

    state = _read_state(state_file)
    _require_services(state, "--state-file")
    report = asyncio.run(read_pipeline(service_urls(state)))
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        console = Console()
        # Off a terminal rich assumes 80 columns; group and topic names need more.
        (console if console.is_terminal else Console(width=160)).print(status_table(report))
    raise typer.Exit(0 if report.reachable else 1)


@app.command()
def backfill(
    file: Annotated[str, typer.Argument(help="CloudEvents as JSON Lines or one JSON array; '-' reads standard input")],
    state_file: Annotated[Path, typer.Option(help="The JSON file `reko stack` wrote")] = Path("stack.json"),
    bootstrap_servers: Annotated[str | None, typer.Option(help="Overrides the state file")] = None,
    topic_prefix: Annotated[str | None, typer.Option(help="Overrides the state file")] = None,
    rejects: Annotated[Path | None, typer.Option(help="Write index, error class and reason of each rejected event here (JSON Lines)")] = None,
    chunk_size: Annotated[int, typer.Option(min=1, max=5000, help="Events sent and acknowledged together")] = 500,
    acks: Annotated[str, typer.Option(help="'1' or 'all' (a region's Kafka: all)")] = "1",
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 300.0,
) -> None:
    """Validate the events of FILE and send them on: valid ones to the certificate topic, the others to its dead-letter topic."""
    from reko.backfill import EXIT_BROKER_FAILED, run_backfill, topic_prefix_from_state
    from shared.settings import Topics

    state = _read_state(state_file)
    servers = bootstrap_servers or state.get("bootstrapServers")
    if not servers:
        raise typer.BadParameter("no broker: run `reko stack` first or pass --bootstrap-servers")
    if acks not in ("1", "all"):
        raise typer.BadParameter("must be '1' or 'all'", param_hint="--acks")
    source = None if file == "-" else Path(file)
    if source is not None and not source.is_file():
        raise typer.BadParameter(f"no such file: {file}", param_hint="FILE")
    if wait:
        _require_services(state, "--wait")
    topics = Topics(prefix=topic_prefix if topic_prefix is not None else topic_prefix_from_state(state))
    code = run_backfill(source, bootstrap_servers=servers, topics=topics, acks=acks, chunk_size=chunk_size, rejects_path=rejects)  # type: ignore[arg-type]  # why: acks is checked to be '1' or 'all' above
    # What was sent before a broken-off file is still worth waiting for; after a broker failure nothing is.
    if wait and code != EXIT_BROKER_FAILED:
        waited = _wait_for_pipeline(state, wait_timeout)
        code = code or waited
    raise typer.Exit(code)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic feed (same seed, same feed)")] = 7,
    patients: Annotated[int, typer.Option(help="Synthetic patients in the feed")] = 300,
    speed_days_per_second: Annotated[float, typer.Option(help="Simulated days per real second")] = 1.0,
    days: Annotated[int, typer.Option(help="Days the feed's signing dates spread over, from 2026-01-01")] = 180,
    log_dir: Annotated[Path, typer.Option()] = Path(".reko/logs"),
    duration: Annotated[float | None, typer.Option(help="Stop after this many real seconds (default: at Ctrl-C)")] = None,
) -> None:
    """Start everything on a fast simulated clock, publish the synthetic feed as time passes, and show alerts and counts."""
    from reko.demo import DemoSettings, run_demo

    if speed_days_per_second <= 0:
        raise typer.BadParameter("must be positive", param_hint="--speed-days-per-second")
    code = run_demo(DemoSettings(seed=seed, patients=patients, days_per_second=speed_days_per_second, days=days, log_dir=log_dir, duration=duration))
    raise typer.Exit(code)


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="The user's HSA id (the token's subject)")],
    role: Annotated[list[str], typer.Option(help="A role (e.g. REHABKOORDINATOR, LAKARE, VERKSAMHETSCHEF, GRANSKARE); repeatable")] = [],  # noqa: B006 - Typer passes its own list; the default is never changed
    unit: Annotated[list[str], typer.Option(help="A care-unit HSA id the user acts for; repeatable")] = [],  # noqa: B006 - Typer passes its own list; the default is never changed
    ttl: Annotated[str, typer.Option(help="Lifetime: seconds, or a number with s, m, h or d")] = "8h",
    name: Annotated[str | None, typer.Option(help="The user's name, for the access log")] = None,
    secret: Annotated[str | None, typer.Option(help="The HS256 secret (default: the state file's)")] = None,
    state_file: Annotated[Path, typer.Option(help="The JSON file `reko stack` wrote")] = Path("stack.json"),
) -> None:
    """Print a development bearer token for the services' HTTP APIs."""
    import re
    from datetime import timedelta

    from shared.auth import AuthSettings, Role, issue_token

    unknown = sorted(set(role) - {known.value for known in Role})
    if unknown:
        raise typer.BadParameter(f"unknown role {', '.join(unknown)}", param_hint="--role")
    lifetime = re.fullmatch(r"(\d+)([smhd]?)", ttl.strip())
    if lifetime is None or int(lifetime[1]) == 0:
        raise typer.BadParameter("a positive number of seconds, or e.g. 30m, 8h, 2d", param_hint="--ttl")
    seconds = int(lifetime[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[lifetime[2]]
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    key = secret or state.get("jwtSecret") or state.get("jwt_secret")
    if not key:
        raise typer.BadParameter("no secret: pass --secret or run `reko stack` (its state file holds one)")
    try:
        settings = AuthSettings(jwt_secret=key)
    except ValueError as problem:
        raise typer.BadParameter(str(problem), param_hint="--secret") from None
    typer.echo(issue_token(settings, sub, role, unit, timedelta(seconds=seconds), name=name))


@app.command()
def schema(out: Annotated[Path, typer.Option()] = Path("certificate-event.schema.json")) -> None:
    """Write the JSON Schema of the certificate feed."""
    from shared.contracts.certificates import certificate_json_schema

    out.write_text(json.dumps(certificate_json_schema(), indent=2, ensure_ascii=False) + "\n")
    typer.echo(f"wrote {out}")


@app.command("what-if")
def what_if(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help='One patient\'s certificates: JSON Lines, a JSON list, or {"certificates": [...], "revokedCertificateIds": [...]}; '
            "signed data objects or whole signed and revoked CloudEvents",
        ),
    ],
    on: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="The date to answer for (default: today in Stockholm)")] = None,
) -> None:
    """Show the cases and milestones the rules give for FILE's certificates on a date. Publishes nothing; needs no broker or database."""
    from rich.console import Console
    from rich.table import Table

    from services.milestones.settings import MilestonesSettings
    from services.milestones.what_if import WhatIfRefused, answer_for_certificates, question_from_text

    settings = MilestonesSettings()  # the region's REKO_MILESTONES_RULES__... and MAX_GAP apply here too
    try:
        question = question_from_text(file.read_text(encoding="utf-8"))
        day = on.date() if on else question.on or settings.make_clock().today()
        answer = answer_for_certificates(question, day, settings.rules, max_gap=settings.max_gap)
    except WhatIfRefused as refused:
        for reason in refused.reasons:
            typer.echo(reason, err=True)
        raise typer.Exit(1) from None
    table = Table(title=f"Milestones on {answer.on.isoformat()}")
    for column in ("case", "period", "days", "milestone", "due", "status", "chain day", "offset (earlier cases)", "legal reference"):
        table.add_column(column)
    for case in answer.cases:
        period = f"{case.start.isoformat()} – {case.end.isoformat()}"
        rows = [
            (
                m.kind.value,
                m.due_date.isoformat(),
                m.status.value,
                str(m.chain_day),
                f"{m.offset} ({', '.join(m.earlier_case_ids) or '–'})",
                m.legal_reference,
            )
            for m in case.milestones
        ] or [("–", "", "", "", "", "")]
        for row in rows:
            table.add_row(case.case_id, period, str(case.certified_days), *row)
    Console().print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
