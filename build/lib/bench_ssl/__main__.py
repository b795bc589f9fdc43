"""`python -m bench_ssl COMMAND ...`: the same as the `bench-ssl` console script."""

import sys

from .cli import main

sys.exit(main())
