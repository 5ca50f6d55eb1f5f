"""SHA-256 of every file in an export, in the format `sha256sum -c` checks."""

from __future__ import annotations

import hashlib
import pathlib

SUMS_NAME = "SHA256SUMS"
CHUNK_BYTES = 1 << 20  # read files in 1 MiB pieces


def sha256_file(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def write_checksums(root: pathlib.Path) -> pathlib.Path:
    """`<root>/SHA256SUMS` covering every other file under root (relative POSIX paths, sorted)."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != SUMS_NAME)
    out = root / SUMS_NAME
    out.write_text("".join(f"{sha256_file(p)}  {p.relative_to(root).as_posix()}\n" for p in files))
    return out


def verify_checksums(root: pathlib.Path) -> list[str]:
    """Paths whose content no longer matches (or that are missing); empty when everything checks."""
    bad = []
    for line in (root / SUMS_NAME).read_text().splitlines():
        digest, rel = line.split("  ", 1)
        path = root / rel
        if not path.is_file() or sha256_file(path) != digest:
            bad.append(rel)
    return bad
