"""Reading a service's Prometheus `/metrics` page (the demo, the tests and the bench all do)."""

from __future__ import annotations


def metric_sum(metrics_text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples that carry all the given labels."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{label}="{expected}"' in head for label, expected in labels.items()):
            total += float(value)
    return total
