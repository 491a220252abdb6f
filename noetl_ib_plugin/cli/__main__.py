"""`python -m noetl_ib_plugin.cli`: the same as the `noetl-ib` console script."""

import sys

from . import main

sys.exit(main())
