"""The soak tests run on the end-to-end rig of tests/stream/test_e2e_live.py."""

from tests.stream.test_e2e_live import rig

__all__ = ["rig"]  # a fixture: pytest finds it by name in this conftest
