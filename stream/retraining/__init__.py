"""Storage and wiring of the retraining mode (issue 20): the progress table and the store-backed providers
of `stream.web.retrain_routes`. The mode's logic is in `analytics.retraining`."""

from strideguard.stream.retraining.progress_log import (
    COLUMN_DOCS,
    PROGRESS_TABLE,
    ProgressLog,
    RetrainStore,
    progress_line,
    read_progress,
)

__all__ = ["COLUMN_DOCS", "PROGRESS_TABLE", "ProgressLog", "RetrainStore", "progress_line", "read_progress"]
