"""The fixed window grid: hop-sized blocks of per-sample sums, combined into overlapping windows.

Blocks are [t0 + b*hop, t0 + (b+1)*hop) on the clock of the session's first sample t0; a window of
k = window/hop blocks starting at block w covers [t0 + w*hop, t0 + (w+k)*hop). Sums inside a block run
sequentially (`RunningSum`), and a window adds its k block totals in block order, so window metrics are
the same for every chunking of the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strideguard.analytics.filters import RunningSum


@dataclass(frozen=True, slots=True)
class Block:
    """One completed hop block: sums of each channel and how many samples went in."""

    index: int
    sums: np.ndarray
    n_samples: int
    last_sample: int  # absolute sample index of the block's last sample (-1 when empty)


class BlockSums:
    """Sequential per-block sums of k per-sample channels."""

    def __init__(self, *, t0_ns: int, hop_ns: int, channels: int):
        self._t0_ns = int(t0_ns)
        self._hop_ns = int(hop_ns)
        self._channels = channels
        self._open: int | None = None
        self._sum = RunningSum(channels)
        self._count = 0
        self._last_sample = -1

    def block_of(self, t_ns: int) -> int:
        return (int(t_ns) - self._t0_ns) // self._hop_ns

    def start_ns(self, block: int) -> int:
        return self._t0_ns + block * self._hop_ns

    def push(self, t_ns: np.ndarray, values: np.ndarray, first_index: int) -> list[Block]:
        """Add one chunk; return the blocks it completed (including empty blocks of a data gap)."""
        done: list[Block] = []
        n = t_ns.shape[0]
        if n == 0:
            return done
        first, last = self.block_of(t_ns[0]), self.block_of(t_ns[-1])
        if first == last:  # the common case: the whole chunk lies in one block (times increase)
            segments: list[tuple[int, int, int]] = [(0, n, first)]
        else:
            ids = (t_ns - self._t0_ns) // self._hop_ns
            cuts = np.flatnonzero(np.diff(ids)) + 1
            starts = np.concatenate(([0], cuts)).tolist()
            stops = np.concatenate((cuts, [n])).tolist()
            segments = [(a, b, int(ids[a])) for a, b in zip(starts, stops)]
        for a, b, block in segments:
            if self._open is not None and block != self._open:
                done.extend(self._close(until=block))
            self._open = block
            self._sum.add(values[a:b])
            self._count += b - a
            self._last_sample = first_index + b - 1
        return done

    def _close(self, *, until: int) -> list[Block]:
        assert self._open is not None
        out = [Block(index=self._open, sums=self._sum.total, n_samples=self._count, last_sample=self._last_sample)]
        out.extend(
            Block(index=b, sums=np.zeros(self._channels), n_samples=0, last_sample=-1)
            for b in range(self._open + 1, until)
        )
        self._sum.reset()
        self._count = 0
        self._open = None
        return out

    def flush(self, *, end_ns: int) -> list[Block]:
        """End of stream: close the open block if the data reached its end (`end_ns` = last sample + 1 period)."""
        if self._open is None or end_ns < self.start_ns(self._open + 1):
            return []
        return self._close(until=self._open + 1)


def combine(blocks: list[Block]) -> tuple[np.ndarray, int, int]:
    """Window totals from its blocks in order: (sums, number of samples, last sample index)."""
    total = blocks[0].sums.copy()
    for block in blocks[1:]:
        total = total + block.sums
    return total, sum(b.n_samples for b in blocks), max(b.last_sample for b in blocks)
