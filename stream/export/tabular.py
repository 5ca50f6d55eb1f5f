"""Parquet and CSV writers: one file per table, appended session by session so memory stays bounded.

Parquet keeps exact types (int64 ns times, float32 samples, nulls); CSV is for everything else (R, MATLAB,
spreadsheets): header row, comma separated, empty cells for missing values, numbers in their shortest
round-trip form.
"""

from __future__ import annotations

import contextlib
import pathlib
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from strideguard.stream.export.dictionary import Column, schema

PARQUET_COMPRESSION = "zstd"
SAMPLES_ROW_GROUP = 1_000_000  # rows per Parquet row group for the samples table


class TableWriters:
    """Opens `<root>/parquet/<table>.parquet` and `<root>/csv/<table>.csv` on first use."""

    def __init__(self, root: pathlib.Path, tables: dict[str, list[Column]], *, parquet: bool, csv: bool) -> None:
        self.root = root
        self.tables = tables
        self.parquet = parquet
        self.csv = csv
        self._pq: dict[str, pq.ParquetWriter] = {}
        self._csv: dict[str, pacsv.CSVWriter] = {}
        self._csv_files: dict[str, BinaryIO] = {}

    def write(self, table_name: str, table: pa.Table) -> None:
        sch = schema(self.tables[table_name])
        table = table.cast(sch)
        if self.parquet:
            if table_name not in self._pq:
                path = self.root / "parquet" / f"{table_name}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                self._pq[table_name] = pq.ParquetWriter(path, sch, compression=PARQUET_COMPRESSION)
            self._pq[table_name].write_table(table, row_group_size=SAMPLES_ROW_GROUP)
        if self.csv:
            csv_table = _decoded(table)
            if table_name not in self._csv:
                path = self.root / "csv" / f"{table_name}.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                f = open(path, "wb")  # noqa: SIM115  outlives this call: the CSV writer's sink, closed by close()
                self._csv_files[table_name] = f
                self._csv[table_name] = pacsv.CSVWriter(
                    f, csv_table.schema, write_options=pacsv.WriteOptions(include_header=True, quoting_style="needed")
                )
            self._csv[table_name].write_table(csv_table)

    def close(self) -> None:
        """Close every file; tables that received no rows are still written (empty, with their header)."""
        for name, cols in self.tables.items():
            if (self.parquet and name not in self._pq) or (self.csv and name not in self._csv):
                self.write(name, schema(cols).empty_table())
        for w in self._pq.values():
            w.close()
        for w in self._csv.values():
            w.close()
        for f in self._csv_files.values():
            f.close()

    def close_quietly(self) -> None:
        """Release open files after a failure (their content is about to be thrown away)."""
        for closer in [*self._pq.values(), *self._csv.values(), *self._csv_files.values()]:
            with contextlib.suppress(Exception):  # the export already failed; keep the first error
                closer.close()
        self._pq.clear()
        self._csv.clear()
        self._csv_files.clear()


def _decoded(table: pa.Table) -> pa.Table:
    """CSV cannot write dictionary-encoded or list columns: decode them, and join lists with ';'."""
    cols = []
    for c in table.columns:
        if pa.types.is_dictionary(c.type):
            c = c.dictionary_decode()
        elif pa.types.is_list(c.type):
            c = pc.binary_join(pc.cast(c, pa.list_(pa.string())), ";")
        cols.append(c)
    return pa.table(cols, names=table.column_names)
