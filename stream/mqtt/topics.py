"""Topic schema on MQTT and the keyed partitioning of runners across analyzer workers.

Output topics are the in-process bus's: `strideguard/v1/<team>/<runner>/{metrics,steps,alerts,status}`.
Raw IMU goes to `strideguard/v1/<team>/<runner>/imu/<partition>`, where the partition is a stable hash
of `<team>/<runner>` modulo PARTITIONS. Worker i of N subscribes to the partitions p with p % N == i,
so every runner's samples reach exactly one worker, in publish order (MQTT keeps order per topic and
QoS). Mosquitto's shared subscriptions would hand consecutive batches of one runner to different
workers (round-robin), which breaks streaming state: the keying is ours. PARTITIONS is fixed so the
collector never needs to know N; N can be anything from 1 to PARTITIONS (change it between sessions).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from strideguard.stream import names
from strideguard.stream.runtime.bus import TOPIC_ROOT, topic

PARTITIONS = 16  # fixed number of IMU partitions; the maximum number of workers per team
SERVICES_TEAM = "_services"  # retained status of collector and worker processes: <root>/_services/<name>/status


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicParts:
    team: str
    runner: str
    kind: str
    partition: int | None = None


def partition_of(team: str, runner: str, *, partitions: int = PARTITIONS) -> int:
    """The IMU partition of a runner: CRC-32 of `team/runner` (stable across processes and
    Python versions, unlike `hash()`), modulo the partition count."""
    return zlib.crc32(f"{team}/{runner}".encode()) % partitions


def imu_topic(team: str, runner: str, *, partitions: int = PARTITIONS) -> str:
    return f"{topic(team, runner, 'imu')}/{partition_of(team, runner, partitions=partitions)}"


def worker_partitions(worker_index: int, n_workers: int, *, partitions: int = PARTITIONS) -> tuple[int, ...]:
    """The partitions worker `worker_index` (0-based) of `n_workers` owns."""
    if not 1 <= n_workers <= partitions:
        raise ValueError(f"the number of workers must be 1..{partitions}, got {n_workers}")
    if not 0 <= worker_index < n_workers:
        raise ValueError(f"worker index must be 0..{n_workers - 1}, got {worker_index}")
    return tuple(p for p in range(partitions) if p % n_workers == worker_index)


def worker_subscriptions(team: str, worker_index: int, n_workers: int) -> list[str]:
    """The topic filters worker i of N subscribes to (`team` may be `+` for every team)."""
    return [f"{TOPIC_ROOT}/{team}/+/imu/{p}" for p in worker_partitions(worker_index, n_workers)]


def control_subscription(team: str) -> str:
    """The topic filter of runners' controls (e.g. a snooze from the phone): `<root>/<team>/+/control`."""
    return f"{TOPIC_ROOT}/{team}/+/control"


def service_status_topic(name: str) -> str:
    """The retained online/offline status (and last will) topic of a collector or worker process."""
    return topic(SERVICES_TEAM, name, "status")


def parse_topic(name: str) -> TopicParts:
    """Split a StrideGuard topic; ValueError for anything outside the schema, including a team or runner
    name outside `stream.names`' allowed set (the worker counts it as a bad message and drops it)."""
    parts = name.split("/")
    root = TOPIC_ROOT.split("/")
    if parts[: len(root)] != root or len(parts) not in (len(root) + 3, len(root) + 4):
        raise ValueError(f"not a {TOPIC_ROOT} topic: {name!r}")
    team, runner, kind = parts[len(root) : len(root) + 3]
    partition = None
    if len(parts) == len(root) + 4:
        if kind != "imu" or not parts[-1].isdigit():
            raise ValueError(f"only imu topics carry a partition: {name!r}")
        partition = int(parts[-1])
    names.check(team, "team")  # a name from the broker enters here: InvalidName is a ValueError
    names.check(runner, "runner")
    topic(team, runner, kind)  # validates the kind
    return TopicParts(team=team, runner=runner, kind=kind, partition=partition)
