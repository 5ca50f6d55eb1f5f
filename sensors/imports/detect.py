"""Which reader a file needs, from its name and first bytes (for `strideguard analyze FILE`)."""

from __future__ import annotations

import os

from strideguard.sensors.capture import MAGIC as CAPTURE_MAGIC
from strideguard.sensors.errors import ImportFormatError
from strideguard.sensors.imports.generic_csv import EXPECTED, looks_like_generic_csv
from strideguard.sensors.imports.table import DELIMITERS
from strideguard.sensors.imports.uci_dsa import looks_like_uci_dsa

CAPTURE_SUFFIX = ".sgcap"
KNOWN = ("sgcap", "uci_dsa", "generic_csv")
_HEAD_BYTES = 65536  # bytes: enough for any header line we know


def detect_format(path: str | os.PathLike[str]) -> str:
    """ "sgcap" (a StrideGuard capture, by its magic bytes or suffix), "uci_dsa" or "generic_csv" (by
    the header); anything else is an ImportFormatError that says what is accepted."""
    path = os.fspath(path)
    if path.endswith(CAPTURE_SUFFIX):
        return "sgcap"  # even when damaged: the capture reader says where
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if head.startswith(CAPTURE_MAGIC):
        return "sgcap"
    if not head.strip():
        raise ImportFormatError("the file is empty", path=path)
    accepted = f"expected a {CAPTURE_SUFFIX} capture or a CSV with the header {EXPECTED}"
    try:
        first_line = head.decode("utf-8-sig").splitlines()[0]
    except UnicodeDecodeError:
        first_line = None
    if first_line is None or b"\x00" in head[:4096]:
        raise ImportFormatError(f"unknown file type (binary); {accepted}", path=path)
    delimiter = next((d for d in DELIMITERS if d in first_line), None)
    header = [c.strip().strip('"') for c in first_line.split(delimiter)] if delimiter else []
    if looks_like_uci_dsa(header):
        return "uci_dsa"
    if looks_like_generic_csv(header) or path.lower().endswith((".csv", ".tsv", ".txt")):
        return "generic_csv"  # the reader names any missing column
    raise ImportFormatError(f"unknown file type; {accepted}", path=path)
