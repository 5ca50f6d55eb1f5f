"""Parts of the validation harness (`benchmarks/validate.py`).

The harness measures StrideGuard's streaming analytics and two established peers (mobgap,
scikit-digital-health) against independent references: leg-gyro step times for the UCI chest
recordings, force-plate contacts for the Alcantara sacrum trials, and known truth for synthetic runs.
It never imports the independent scoring tools: references and scores are derived here, so the harness runs on any
checkout and on held-out recordings in the same format.
"""
