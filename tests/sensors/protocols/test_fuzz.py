"""Seeded fuzz: mutated and random payloads never raise anything but DecodeError.

The seed is printed (run with -s, or read it in the failure output) and can be pinned with
STRIDEGUARD_FUZZ_SEED=<seed> to replay a failure exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest

from strideguard.sensors import decoding
from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols import alert_level, hrm, movesense, pmd_control, pmd_data, rsc, strideguard_imu
from strideguard.sensors.types import NO_META, Placement, SampleBatch, StreamMeta
from tests.fuzz._support import fuzz_seed

CASES_PER_DECODER = 1500


def _seed() -> int:
    return fuzz_seed()  # pinned unless STRIDEGUARD_FUZZ_SEED or a long run says otherwise; in the pytest header


def _mutations(rng: random.Random, seeds: list[bytes]):
    for _ in range(CASES_PER_DECODER):
        base = bytearray(rng.choice(seeds))
        op = rng.randrange(6)
        if op == 0 and base:
            del base[rng.randrange(len(base)) :]  # truncate
        elif op == 1 and base:
            for _ in range(rng.randint(1, 4)):
                base[rng.randrange(len(base))] = rng.randrange(256)  # corrupt bytes
        elif op == 2:
            base += bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))  # trailing garbage
        elif op == 3:
            base = bytearray(rng.randrange(256) for _ in range(rng.randint(0, 240)))  # pure noise
        elif op == 4 and len(base) > 2:
            i = rng.randrange(len(base) - 1)
            base[i], base[i + 1] = base[i + 1], base[i]
        elif op == 5 and base:
            base[rng.randrange(len(base))] ^= 1 << rng.randrange(8)  # bit flip
        yield bytes(base)


def _pmd_data_seeds(vectors: dict) -> list[bytes]:
    return [bytes.fromhex(v["hex"]) for v in vectors["polar_pmd"]]


def _control_seeds(vectors: dict) -> list[bytes]:
    return [bytes.fromhex(v["response"]) for v in vectors["polar_pmd_control"] if "response" in v] + [b"\x01\x02"]


def _sig_seeds(vectors: dict, prefix: str) -> list[bytes]:
    return [bytes.fromhex(v["hex"]) for v in vectors["sig"] if v["name"].startswith(prefix)]


_SUBS = {1: movesense.Subscription.from_path("/Meas/IMU6/104"), 2: movesense.Subscription.from_path("/Meas/Acc/52")}
_MOVESENSE_SEEDS = [
    movesense.build_data(1, 1234, [[0.1, 0.2, 9.8]] * 4, [[1.0, 2.0, 3.0]] * 4),
    movesense.build_data(2, 99, [[0.0, 0.0, 9.8]] * 8),
    movesense.build_command_result(1, 200),
]

_IMU_SEEDS = [
    strideguard_imu.encode_imu(
        SampleBatch(
            runner="r",
            device="h10",
            placement=Placement.CHEST,
            kind="acc",
            rate_hz=100.0,
            t_ns=[10**18 + k * gap for k in range(n)],
            values=np.tile([0.1, 0.2, 1.0], (n, 1)),
        ),
        session="r-1",
        seq=n,
        final=n == 0,
    )
    for n, gap in ((0, 1), (1, 1), (6, 10_000_000), (3, 3 * 10**9))
]


def _stateful(source: str, meta: StreamMeta = NO_META) -> Callable[[bytes], object]:
    decoder = decoding.make_decoder(source, runner="r", device="d", placement=Placement.CHEST, rate_hz=200.0, meta=meta)
    clock = iter(range(10**9, 10**18, 5_000_000))
    return lambda payload: decoder.feed(next(clock), payload)


DECODERS: dict[str, tuple[Callable[[dict], list[bytes]], Callable[[], Callable[[bytes], object]]]] = {
    "pmd_frame": (_pmd_data_seeds, lambda: pmd_data.parse_frame),
    "pmd_control": (_control_seeds, lambda: pmd_control.PmdControlDecoder().feed),
    "pmd_settings": (
        lambda v: [bytes.fromhex(x["settings_hex"]) for x in v["polar_pmd_control"] if "settings_hex" in x],
        lambda: pmd_control.parse_settings,
    ),
    "hrm": (lambda v: _sig_seeds(v, "hrm"), lambda: hrm.parse_hrm),
    "rsc": (lambda v: _sig_seeds(v, "rsc"), lambda: rsc.parse_rsc),
    "movesense": (lambda v: _MOVESENSE_SEEDS, lambda: lambda p: movesense.parse_notification(p, _SUBS)),
    "alert_level": (lambda v: [b"\x00", b"\x01", b"\x02"], lambda: alert_level.parse_alert_level),
    "strideguard_imu": (lambda v: _IMU_SEEDS, lambda: lambda p: strideguard_imu.decode_imu(p, runner="r")),
    "stream_pmd_data": (_pmd_data_seeds, lambda: _stateful("pmd_data", StreamMeta(gyro_rate_hz=52.0))),
    "stream_pmd_control": (_control_seeds, lambda: _stateful("pmd_control")),
    "stream_hrm": (lambda v: _sig_seeds(v, "hrm"), lambda: _stateful("hrm")),
    "stream_rsc": (lambda v: _sig_seeds(v, "rsc"), lambda: _stateful("rsc")),
    "stream_movesense": (
        lambda v: _MOVESENSE_SEEDS[:2],
        lambda: _stateful("movesense", StreamMeta(movesense_path="/Meas/IMU6/104")),
    ),
}


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_nothing_but_decode_error_escapes(name: str, ble_vectors: dict) -> None:
    seed = _seed()
    print(f"fuzz {name}: STRIDEGUARD_FUZZ_SEED={seed}")
    rng = random.Random(seed)
    seeds_of, make = DECODERS[name]
    seeds = seeds_of(ble_vectors)
    assert seeds
    decode = make()
    errors = 0
    for payload in _mutations(rng, seeds):
        try:
            decode(payload)
        except DecodeError:
            errors += 1
        except Exception as exc:
            pytest.fail(f"{name} raised {type(exc).__name__}: {exc} for {payload.hex()} (STRIDEGUARD_FUZZ_SEED={seed})")
    assert errors > 0, "the mutations never produced an error: the fuzzer is not exercising the decoder"
