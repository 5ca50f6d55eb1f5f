"""Speed, memory and accuracy runs (not tests: each prints a table).

Run each as a module from the repository root, e.g. `.venv/bin/python -m benchmarks.bench_analytics`:
that puts the root on `sys.path`, so `benchmarks.*` and `tests.fixtures_services` import like the
installed packages, with no path manipulation in the scripts.

Keep this file free of imports: `python -m benchmarks.validate` runs it first, and validate.py must set
the BLAS/OpenMP thread limits before anything loads numpy.
"""
