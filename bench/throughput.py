"""End-to-end throughput on the embedded stack: certificates in, until every service is quiet.

Run on demand (`make bench` or `python -m bench.throughput --patients 5000`); it prints figures and
asserts nothing. The four services, the broker and PostgreSQL share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from reko.feed import FeedSettings, generate_feed
from reko.publish import publish_events
from reko.stack import Stack, StackSettings
from tests.support import current_cases, metric_value, wait_for_quiet


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=3)
    arguments = parser.parse_args(argv)

    events = generate_feed(FeedSettings(seed=arguments.seed, patients=arguments.patients))
    with tempfile.TemporaryDirectory() as logs:
        stack = Stack(StackSettings(clock="fixed:2026-07-01T12:00:00+02:00", log_dir=Path(logs))).start()
        try:
            started = time.perf_counter()
            asyncio.run(publish_events(stack.bootstrap_servers, stack.topics.name(stack.topics.certificates), events))
            published = time.perf_counter()
            wait_for_quiet(stack, timeout=1800, settle=2)
            finished = time.perf_counter()
            cases = len(current_cases(stack))
            certificates_topic = stack.topics.name(stack.topics.certificates)
            batches = metric_value(stack.services["intake"].base_url, "reko_handler_seconds_count", topic=certificates_topic)
            busy = {name: metric_value(service.base_url, "reko_handler_seconds_sum") for name, service in stack.services.items()}
        finally:
            stack.stop()
    elapsed = finished - started
    print(f"certificate events : {len(events)}")
    print(f"cases at the end   : {cases}")
    print(f"publish time       : {published - started:.2f} s")
    print(f"until quiet        : {elapsed:.2f} s (includes up to ~1.5 s of quiet-detection polling)")
    print(f"end-to-end rate    : {len(events) / elapsed:.0f} certificate events/s through all four services")
    print(f"intake batches     : {batches:.0f} (mean {len(events) / max(batches, 1):.1f} events per batch)")
    for name, seconds in busy.items():
        print(f"{name:<19}: {seconds:.2f} s inside batch transactions")


if __name__ == "__main__":
    main()
