"""`reko`: run the whole system locally, feed it, and look at it."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Annotated, Optional

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


@app.command()
def stack(
    clock: Annotated[str, typer.Option(help="'system', 'fixed:<ISO time>' or 'simulated:<ISO time>*<speed>'")] = "system",
    state_file: Annotated[Path, typer.Option(help="Where to write the JSON naming servers and URLs")] = Path("stack.json"),
    kafka: Annotated[Optional[str], typer.Option(help="Use this broker instead of the embedded one")] = None,
    database_url: Annotated[Optional[str], typer.Option(help="Use this PostgreSQL server instead of the embedded one")] = None,
    log_dir: Annotated[Path, typer.Option()] = Path(".reko/logs"),
) -> None:
    """Start broker, database and the four services (no feed) until Ctrl-C."""
    from reko.stack import Stack, StackSettings

    running = Stack(StackSettings(clock=clock, kafka_bootstrap_servers=kafka, database_url=database_url, log_dir=log_dir)).start()
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
    file: Annotated[Path, typer.Argument(help="CloudEvents, one JSON object per line")],
    state_file: Annotated[Path, typer.Option(help="The JSON file `reko stack` wrote")] = Path("stack.json"),
    bootstrap_servers: Annotated[Optional[str], typer.Option(help="Overrides the state file")] = None,
    topic: Annotated[Optional[str], typer.Option(help="Overrides the state file")] = None,
) -> None:
    """Publish the lines of FILE to the certificate topic as they are, without validating them."""
    from reko.publish import publish_lines, read_lines

    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    servers = bootstrap_servers or state.get("bootstrapServers")
    target = topic or state.get("topics", {}).get("certificates", "sickleave.certificates.v1")
    if not servers:
        raise typer.BadParameter("no broker: run `reko stack` first or pass --bootstrap-servers")
    count = asyncio.run(publish_lines(servers, target, read_lines(file)))
    typer.echo(f"published {count} records to {target}")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic feed (same seed, same feed)")] = 7,
    patients: Annotated[int, typer.Option(help="Synthetic patients in the feed")] = 300,
    speed_days_per_second: Annotated[float, typer.Option(help="Simulated days per real second")] = 1.0,
    days: Annotated[int, typer.Option(help="Days the feed's signing dates spread over, from 2026-01-01")] = 180,
    log_dir: Annotated[Path, typer.Option()] = Path(".reko/logs"),
    duration: Annotated[Optional[float], typer.Option(help="Stop after this many real seconds (default: at Ctrl-C)")] = None,
) -> None:
    """Start everything on a fast simulated clock, publish the synthetic feed as time passes, and show alerts and counts."""
    from reko.demo import DemoSettings, run_demo

    if speed_days_per_second <= 0:
        raise typer.BadParameter("must be positive", param_hint="--speed-days-per-second")
    code = run_demo(
        DemoSettings(
            seed=seed, patients=patients, days_per_second=speed_days_per_second, days=days, log_dir=log_dir, duration=duration
        )
    )
    raise typer.Exit(code)


@app.command()
def schema(out: Annotated[Path, typer.Option()] = Path("certificate-event.schema.json")) -> None:
    """Write the JSON Schema of the certificate feed."""
    from shared.contracts.certificates import certificate_json_schema

    out.write_text(json.dumps(certificate_json_schema(), indent=2, ensure_ascii=False) + "\n")
    typer.echo(f"wrote {out}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
