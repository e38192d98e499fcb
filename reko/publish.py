"""Publish a file of CloudEvents, one JSON object per line, to the certificate topic as they are."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

# Below the broker's default limit of a message (1 MiB) with room for a batch's overhead.
RECORD_BATCH_BYTES = 512 * 1024


def record_key(line: bytes) -> bytes | None:
    """The contract's key is the certificateId; a line that has none is sent without a key."""
    try:
        certificate_id = json.loads(line)["data"]["certificateId"]
    except (ValueError, KeyError, TypeError):
        return None
    return certificate_id.encode() if isinstance(certificate_id, str) else None


def read_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


async def publish_lines(bootstrap_servers: str, topic: str, lines: Iterable[bytes]) -> int:
    """Send every line unvalidated (bad input is the pipeline's to reject); returns the count."""
    # Large record batches: the embedded broker's every fetch costs in proportion to the batches a
    # partition holds, so a feed sent in small ones slows every consumer of the topic (bench/README.md).
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, linger_ms=5, max_batch_size=RECORD_BATCH_BYTES)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=record_key(line), value=line) for line in lines]
        for future in futures:
            await future
    finally:
        await producer.stop()
    return len(futures)


async def publish_events(bootstrap_servers: str, topic: str, events: Iterable[dict[str, Any]]) -> int:
    return await publish_lines(bootstrap_servers, topic, (json.dumps(event, ensure_ascii=False).encode() for event in events))
