"""Commands run after a store changed (a Java service to reload, say)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0


def run_hooks(
    commands: Sequence[Sequence[str]],
    *,
    target: str,
    added: Sequence[str],
    removed: Sequence[str],
    environ: Mapping[str, str],
    timeout: float = DEFAULT_TIMEOUT,
) -> list[str]:
    """Run each argv once, through the bounded runner; return one error line per failed hook.

    The store is not undone. A hook that does not finish within ``timeout`` is killed with
    everything it started, and so is a hook still running when rotator stops or dies.
    """
    import subprocess  # only when a store changed and a hook is configured

    from rotator.host.process import run_bounded

    env = dict(environ)
    env.update(
        ROTATOR_TARGET=target,
        ROTATOR_ADDED=",".join(added),
        ROTATOR_REMOVED=",".join(removed),
    )
    errors = []
    for argv in commands:
        shown = " ".join(argv)
        try:
            returncode, output = run_bounded(argv, env=env, timeout=timeout, cwd=os.sep)
        except FileNotFoundError:
            errors.append(f"{target}: on_change hook {shown!r} not found; fix the command in the config")
            continue
        except subprocess.TimeoutExpired:
            errors.append(
                f"{target}: on_change hook {shown!r} did not finish within {timeout:g}s and was stopped, "
                "with what it started"
            )
            continue
        except OSError as exc:
            errors.append(f"{target}: on_change hook {shown!r} could not start: {exc.strerror}")
            continue
        if returncode != 0:
            tail = output.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            errors.append(
                f"{target}: on_change hook {shown!r} exited {returncode}: {tail[0]}; the store keeps its new roots"
            )
        else:
            log.info("%s: on_change hook %r ran", target, shown)
    return errors
