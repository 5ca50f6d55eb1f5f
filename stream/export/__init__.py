"""Research export: Motion-BIDS, Parquet and CSV with a data dictionary, pseudonymised, checksummed.

    from strideguard.stream.export import ExportOptions, export_sessions, select_sessions
    result = export_sessions(store, select_sessions(store, runner="anna"), ExportOptions(out_dir=...))

Modules, one concern each: `dictionary` (columns and units, derived from the result dataclasses),
`pseudonym` (subject/session labels, date shift, the key file), `samples` (raw samples back from a
session's recording), `tables` (Arrow tables), `tabular` (Parquet and CSV writers), `bids` (the
Motion-BIDS layout), `checksums`, `progress` (a bar on stderr), `reimport` (Parquet back to sample
batches), `exporter` (the composition). pyarrow loads on first use, so the CLI starts fast.
"""

from __future__ import annotations

from typing import Any

FORMATS = ("bids", "parquet", "csv")
_LAZY = {"ExportOptions", "ExportResult", "ExportError", "export_sessions", "select_sessions"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from strideguard.stream.export import exporter

        return getattr(exporter, name)
    raise AttributeError(name)


__all__ = ["FORMATS", *sorted(_LAZY)]
