"""The peer runners (mobgap, scikit-digital-health), run in .venv-peers as
`.venv-peers/bin/python -m benchmarks.peers.run_mobgap` from the repository root (see
benchmarks/validation/peers.py). They import nothing from StrideGuard: only numpy and their peer.
"""
