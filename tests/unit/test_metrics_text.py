"""Reading a /metrics page with prometheus_client's own parser: labels match by name and value, never by substring."""

from prometheus_client import CollectorRegistry, Counter, generate_latest

from reko.metrics_text import metric_sum


def test_a_label_is_matched_by_its_name_not_by_a_longer_name_that_ends_like_it():
    registry = CollectorRegistry()
    moved = Counter("reko_moved_total", "Records moved.", ["topic", "source_topic"], registry=registry)
    moved.labels(topic="a", source_topic="b").inc(3)
    moved.labels(topic="b", source_topic="a").inc(4)
    page = generate_latest(registry).decode()

    assert metric_sum(page, "reko_moved_total", topic="a") == 3
    assert metric_sum(page, "reko_moved_total") == 7
    assert metric_sum(page, "reko_no_such_metric") == 0
