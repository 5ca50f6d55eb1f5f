"""`python -m strideguard.stream.cli`: the `strideguard` command."""

import sys

from strideguard.stream.cli import main

sys.exit(main())
