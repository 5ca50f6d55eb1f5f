"""Plain-text tables: aligned columns, a title, and notes underneath (what a cell means, failures)."""

from __future__ import annotations

from collections.abc import Sequence


def fmt(x: object, spec: str = "{:.2f}") -> str:
    """A cell: numbers by `spec`, None as n/a, strings as they are."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int | float):
        if x != x:  # NaN
            return "n/a"
        return spec.format(x)
    return str(x)


def render(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], notes: Sequence[str] = ()) -> str:
    """Title, header, rule, rows (first column left-aligned, the rest right-aligned), notes."""
    cells = [list(header)] + [list(r) for r in rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        parts = [str(row[0]).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(row[1:], widths[1:])]
        return "  ".join(parts).rstrip()

    out = [title, "=" * len(title), line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    out += [f"  {n}" for n in notes]
    return "\n".join(out) + "\n"
