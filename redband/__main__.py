"""``python -m redband``: the same as the ``redband`` command."""

import sys

from redband.cli import main

sys.exit(main())
