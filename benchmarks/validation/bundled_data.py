"""The real recordings the tests, the harness and the sample script use, carried in the repository.

`data/` holds the published files gzip-compressed (byte for byte the originals once unpacked) and a
`SHA256SUMS` list of the originals. `unpack(dest)` writes the plain files into `dest` with the same
layout as the published folders, checking every one against the list, so every reader (the CLI's
importers, `csv`, `numpy.loadtxt`) sees the original files and a corrupted copy fails loudly instead of
changing a result. Nothing here reads anything outside the repository.
"""

from __future__ import annotations

import gzip
import hashlib
import pathlib
import shutil

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA_DIR = REPO / "data"
CACHE_DIR = REPO / ".cache" / "data"  # where the harness unpacks by default (ignored by git)
SUMS_FILE = "SHA256SUMS"


class BundledDataError(Exception):
    """A bundled file is missing or is not the file the checksum list names."""


def expected_sums(data_dir: pathlib.Path = DATA_DIR) -> dict[str, str]:
    """`relative path -> SHA-256` of each original file, from `sha256sum` output."""
    sums: dict[str, str] = {}
    for line in (data_dir / SUMS_FILE).read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def unpack(dest: pathlib.Path = CACHE_DIR, *, data_dir: pathlib.Path = DATA_DIR) -> pathlib.Path:
    """Write every bundled file into `dest` (same layout as the published folders) and return `dest`.

    A file already in `dest` with the right checksum is kept; anything else is (re)written from the
    compressed copy and checked. Raises `BundledDataError` naming the file when a copy is missing or
    does not match its checksum.
    """
    for name, digest in expected_sums(data_dir).items():
        target = dest / name
        if target.is_file() and _sha256(target) == digest:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        plain, packed = data_dir / name, data_dir / f"{name}.gz"
        try:
            if plain.is_file():
                shutil.copyfile(plain, target)
            else:
                with gzip.open(packed, "rb") as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
        except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
            raise BundledDataError(f"{packed if not plain.is_file() else plain}: cannot be read ({exc})") from exc
        if _sha256(target) != digest:
            target.unlink()
            raise BundledDataError(f"data/{name}: SHA-256 differs from {SUMS_FILE}; the copy is damaged")
    return dest
