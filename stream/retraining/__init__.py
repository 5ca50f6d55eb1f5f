"""Storage and wiring of the retraining mode (issue 20): the progress table and the store-backed providers
of `stream.web.retrain_routes`. The mode's logic is in `analytics.retraining`."""

from strideguard.stream.retraining.progress_log import PROGRESS_TABLE, ProgressLog, RetrainStore

__all__ = ["PROGRESS_TABLE", "ProgressLog", "RetrainStore"]
