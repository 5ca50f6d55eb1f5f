"""Research export: Motion-BIDS, Parquet and CSV with a data dictionary, pseudonymised, checksummed.

    from stream.export import ExportOptions, export_sessions
    manifest = export_sessions(store, rows, ExportOptions(out_dir=..., key_path=...))

Modules, one concern each: `dictionary` (columns and units, derived from the result dataclasses),
`pseudonym` (subject/session labels, date shift, the key file), `samples` (raw samples back from a
session's recording), `tables` (Arrow tables), `tabular` (Parquet and CSV writers), `bids` (the
Motion-BIDS layout), `checksums`, `progress` (a bar on stderr), `reimport` (Parquet back to sample
batches), `exporter` (the composition).
"""

from stream.export.exporter import ExportOptions, ExportResult, export_sessions, select_sessions

__all__ = ["ExportOptions", "ExportResult", "export_sessions", "select_sessions"]
