"""Session report: an HTML page and PNG figures for one stored session.

    from strideguard.stream.report import write_report
    result = write_report(store, "anna-2026", out_dir)   # index.html + metrics/steps/symmetry/history/
                                                         # training_load.png

Modules: `data` (what is shown, from the store), `plots` (matplotlib figures), `page` (the HTML).
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

from strideguard.stream.report.data import ReportData, gather
from strideguard.stream.report.page import render
from strideguard.stream.sqlite.store import SessionStore


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportResult:
    index: pathlib.Path
    images: tuple[pathlib.Path, ...]
    data: ReportData


def write_report(store: SessionStore, session: str, out_dir: pathlib.Path) -> ReportResult:
    """Gather the session, draw every figure into `out_dir`, write `out_dir/index.html`."""
    from strideguard.stream.report.plots import FIGURES, save  # matplotlib loads only when a report is drawn

    data = gather(store, session)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = tuple(save(draw(data), out_dir / name) for name, draw in FIGURES.items())
    index = out_dir / "index.html"
    index.write_text(render(data, [p.name for p in images]), encoding="utf-8")
    return ReportResult(index=index, images=images, data=data)


__all__ = ["ReportResult", "write_report"]
