"""Other people's files as SampleBatches: a generic CSV and the UCI Daily and Sports Activities layout.

    fmt = detect_format(path)          # "sgcap" | "uci_dsa" | "generic_csv"
    result = read_generic_csv(path, runner="ann", placement="chest", acc_unit="m/s2", time_unit="ms")
    result = read_uci_dsa(path, unit="T")
    result.acc, result.gyro            # SampleBatch in g / deg/s (gyro None when absent)

    for batch in read_any(path, runner="ann"):   # the shell's entry: detected format, units inferred
        ...                                      # when declared nowhere, error raised after the last
                                                 # readable batch

A file-wide problem raises ImportFormatError (one line naming file and line). A damaged row raises with
`strict=True` (default); with `strict=False` the rows before it come back with `result.error` set.
"""

from strideguard.sensors.imports.detect import detect_format
from strideguard.sensors.imports.generic_csv import read_generic_csv
from strideguard.sensors.imports.reader import import_file, read_any
from strideguard.sensors.imports.result import ImportResult
from strideguard.sensors.imports.uci_dsa import read_uci_dsa

__all__ = ["ImportResult", "detect_format", "import_file", "read_any", "read_generic_csv", "read_uci_dsa"]
