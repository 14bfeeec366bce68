"""``python -m rotator`` is the same as the ``rotator`` command."""

from rotator.cli.main import run

run()
