"""Reading a service's Prometheus `/metrics` page (the demo, the tests and the bench all do)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def metric_sum(metrics_text: str, name: str, **labels: str) -> float:
    """The sum of the samples named `name` (`…_total`, `…_sum` as exposed) that carry all the given labels."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(label) == expected for label, expected in labels.items())
    )
