"""What the PDL access log keeps of a request path."""

from shared.access_log import loggable_path


def test_the_query_is_dropped_and_hsa_ids_stay_readable():
    assert loggable_path("/units/SE2321000000-1001/cases?on=2026-03-15&doctor=SE2321000000-2001") == "/units/SE2321000000-1001/cases"


def test_anything_shaped_like_a_personnummer_in_a_path_is_masked():
    # no route takes one, but a client might still put one there
    assert loggable_path("/patients/19800124-9286/history") == "/patients/[redacted]/history"
    assert loggable_path("/patients/8001249286") == "/patients/[redacted]"
