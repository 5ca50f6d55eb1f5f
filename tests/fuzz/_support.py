"""What every fuzz test here shares: pinned hypothesis settings, a seeded mutation loop, a memory probe.

Quick by default (the whole package well under a minute). For a long run set STRIDEGUARD_FUZZ_LONG=<factor>
(e.g. 50): hypothesis draws `factor` times more examples with a fresh random seed (it prints the seed to
reproduce a failure with `--hypothesis-seed`), and every mutation loop runs `factor` times more cases.
A mutation loop prints its seed; STRIDEGUARD_FUZZ_SEED=<seed> replays it exactly.
"""

from __future__ import annotations

import contextlib
import os
import random
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

LONG_FACTOR = max(1, int(os.environ.get("STRIDEGUARD_FUZZ_LONG", "1") or "1"))


def fuzz_settings(max_examples: int) -> settings:
    """Pinned (derandomized) in a normal run so CI is reproducible; random and `LONG_FACTOR` times longer
    in a long run."""
    return settings(
        max_examples=max_examples * LONG_FACTOR,
        derandomize=LONG_FACTOR == 1,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


def fuzz_seed() -> int:
    return int(os.environ.get("STRIDEGUARD_FUZZ_SEED") or random.SystemRandom().randrange(2**32))


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to four of: truncate, overwrite bytes, flip a bit, insert or delete a run, append garbage, or
    duplicate a slice (what a damaged radio link, disk or broker does to bytes)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if op == 0 and out:
            del out[rng.randrange(len(out)) :]
        elif op == 1 and out:
            for _ in range(rng.randint(1, 8)):
                out[rng.randrange(len(out))] = rng.randrange(256)
        elif op == 2 and out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif op == 3:
            at = rng.randrange(len(out) + 1)
            out[at:at] = rng.randbytes(rng.randint(1, 32))
        elif op == 4 and out:
            at = rng.randrange(len(out))
            del out[at : at + rng.randint(1, 32)]
        elif op == 5:
            out += rng.randbytes(rng.randint(1, 64))
        elif op == 6 and out:
            a = rng.randrange(len(out))
            out[a:a] = out[a : a + rng.randint(1, 64)]
    return bytes(out)


def mutation_fuzz(
    name: str,
    seeds: Iterable[bytes],
    parse: Callable[[bytes], Any],
    allowed: type[Exception] | tuple[type[Exception], ...],
    *,
    cases: int,
) -> tuple[int, int]:
    """Feed `cases` mutations of the seed inputs to `parse`; anything but `allowed` fails the test with
    the seed and the input. Returns (parsed, refused) so a caller can check both paths were taken."""
    seed = fuzz_seed()
    print(f"fuzz {name}: STRIDEGUARD_FUZZ_SEED={seed}")
    rng = random.Random(seed)
    seeds = list(seeds)
    parsed = refused = 0
    for _ in range(cases * LONG_FACTOR):
        data = mutate(rng, rng.choice(seeds))
        try:
            parse(data)
            parsed += 1
        except allowed:
            refused += 1
        except Exception as exc:
            pytest.fail(
                f"{name} raised {type(exc).__name__}: {exc} for input {data[:200].hex()}"
                f"{'...' if len(data) > 200 else ''} (replay: STRIDEGUARD_FUZZ_SEED={seed})"
            )
    return parsed, refused


def peak_bytes(call: Callable[[], Any]) -> int:
    """Peak traced Python allocation (bytes) while `call` runs; exceptions from it are swallowed because
    the memory bound must hold on the error path too."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with contextlib.suppress(Exception):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def drain(items: Iterator[Any]) -> int:
    return sum(1 for _ in items)
