"""Our producers place every key where aiokafka's default partitioner (and the Java client) would."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from shared.kafka import key_partitioner


def test_a_key_lands_on_the_partition_the_default_partitioner_chooses():
    partitions = [0, 1, 2]
    for number in range(2_000):
        key = f"patient-{number}".encode()
        assert key_partitioner(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_remembered_key_still_follows_the_partition_count():
    key = b"patient-remembered"
    assert key_partitioner(key, [0, 1, 2], [0, 1, 2]) == DefaultPartitioner()(key, [0, 1, 2], [0, 1, 2])
    assert key_partitioner(key, list(range(7)), list(range(7))) == DefaultPartitioner()(key, list(range(7)), list(range(7)))


def test_a_record_without_a_key_goes_to_an_available_partition():
    assert key_partitioner(None, [0, 1, 2], [2]) == 2
