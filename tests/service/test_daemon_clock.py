"""A daemon runs for months: each cycle judges the lifecycle at the time it starts, not at start-up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rotator.cli.arguments import build_parser, flags_of
from rotator.service.daemon import Daemon


def _daemon(tmp_path: Path, *extra: str) -> Daemon:
    config = tmp_path / "rotator.toml"
    bundle = tmp_path / "roots.pem"
    config.write_text(f'[[targets]]\nkind = "pem"\npath = "{bundle}"\n\n[daemon]\ncatalog_check = "off"\n')
    args = build_parser().parse_args(
        ["daemon", "--offline", "--config", str(config), "--state-dir", str(tmp_path / "state"), *extra]
    )
    return Daemon(flags_of(args), {})


def test_each_cycle_is_judged_at_its_own_time(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path)
    # Pretend the config was read long ago: the next cycle must not inherit that date.
    request = daemon.resolved.request
    long_ago = request.obtain._replace(at=request.at - dt.timedelta(days=400))
    daemon.resolved = daemon.resolved._replace(request=request._replace(obtain=long_ago))
    before = dt.datetime.now(dt.UTC)
    at = daemon.cycle_request().at
    assert before <= at <= dt.datetime.now(dt.UTC)


def test_at_pins_the_date_of_every_cycle(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, "--at", "2031-12-01")
    assert daemon.cycle_request().at == dt.datetime(2031, 12, 1, tzinfo=dt.UTC)
