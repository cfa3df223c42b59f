"""``python -m lineage_sdk.cli``: the ``lineage`` command."""

import sys

from . import main

sys.exit(main())
