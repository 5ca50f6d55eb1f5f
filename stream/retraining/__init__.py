"""Storage and wiring of the retraining mode (issue 20). `records`: the progress table's layout and
read-only readers (light: for sessions, report, export); `progress_log`: writing it, and `RetrainStore`,
the store-backed providers of `stream.web.retrain_routes`. The mode's logic is in `analytics.retraining`.
Import from the submodules (this package imports nothing, so `records` stays light)."""
