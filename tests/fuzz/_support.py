"""What every fuzz test here shares: pinned hypothesis settings, a seeded mutation loop, a memory probe.

Quick by default (the whole package well under a minute). For a long run set STRIDEGUARD_FUZZ_LONG=<factor>
(e.g. 50): hypothesis draws `factor` times more examples from a fresh seed, and every seeded loop runs
`factor` times more cases from a fresh seed. Both seeds are printed in the pytest header (tests/conftest.py);
`--hypothesis-seed=<seed>` and STRIDEGUARD_FUZZ_SEED=<seed> replay them exactly. A normal run is pinned:
hypothesis derandomized (each test's inputs fixed by its name) and the loops seeded with PINNED_SEED.
"""

from __future__ import annotations

import contextlib
import os
import random
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

LONG_FACTOR = max(1, int(os.environ.get("STRIDEGUARD_FUZZ_LONG", "1") or "1"))


def fuzz_settings(max_examples: int) -> settings:
    """Pinned (derandomized) in a normal run so CI is reproducible; random and `LONG_FACTOR` times longer
    in a long run."""
    return settings(
        max_examples=max_examples * LONG_FACTOR,
        # scripts/mutants.py only needs to know that a test fails, not the smallest input that makes it
        phases=[p for p in Phase if p is not Phase.shrink or not os.environ.get("STRIDEGUARD_MUTANT_RUN")],
        derandomize=LONG_FACTOR == 1,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


PINNED_SEED = 20261204  # the seed of a normal (CI) run: the same inputs every time


def _session_seed() -> int:
    """STRIDEGUARD_FUZZ_SEED if set; else pinned in a normal run, fresh in a long run. tests/conftest.py
    prints it in the pytest header, so any failing run can be replayed."""
    if os.environ.get("STRIDEGUARD_FUZZ_SEED"):
        return int(os.environ["STRIDEGUARD_FUZZ_SEED"])
    return PINNED_SEED if LONG_FACTOR == 1 else random.SystemRandom().randrange(2**32)


SESSION_SEED = _session_seed()


def fuzz_seed() -> int:
    """The seed of every seeded loop in this run (one per run, printed in the pytest header)."""
    return SESSION_SEED


def mutate(rng: random.Random, data: bytes, ops: Sequence[int] = range(7)) -> bytes:
    """One to four of: truncate, overwrite bytes, flip a bit, insert or delete a run, append garbage, or
    duplicate a slice (what a damaged radio link, disk or broker does to bytes); `ops` picks among them."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(ops)
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
