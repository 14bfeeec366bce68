"""``python -m rotator`` is the same as the ``rotator`` command."""

import sys

from rotator.cli.main import main

sys.exit(main())
