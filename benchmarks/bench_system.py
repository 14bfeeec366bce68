"""rotator's system target against doing it by hand with update-ca-certificates, side by side.

Both work in the same kind of redirected Debian tree (every path of update-ca-certificates under
a temp directory, hooks dir empty, the full packaged Mozilla set listed in the certsconf, already
refreshed once, as on a real machine):

  add:   ``rotator sync --offline --target system`` (refresh = host, --sysroot TREE)
         vs  copying the same 7 Azure roots as .crt files + ``update-ca-certificates``
  no-op: the same sync again (nothing changed)
         vs  ``update-ca-certificates`` again (nothing changed)

Each figure is the median wall time over --reps runs; every run of the "add" case gets a freshly
built tree (built untimed). rotator is timed as a whole process, as a user runs it.

    python benchmarks/bench_system.py [--reps 7] [--packaged N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rotator.roots.catalog import DEFAULT_PROFILE, Catalog
from tests.support.paths import REPO
from tests.support.systree import MOZILLA, UPDATE_CA_CERTIFICATES, debian_tree, redirect_flags

UPDATE = str(UPDATE_CA_CERTIFICATES)
AZURE = list(Catalog.builtin().profiles[DEFAULT_PROFILE])  # the roots a default sync adds


flags = redirect_flags  # update-ca-certificates redirected into the tree, hooks included


def build_tree(root: Path, packaged: int) -> Path:
    debian_tree(root, packaged=packaged)
    (root / "rotator.toml").write_text('[[targets]]\nkind = "system"\nrefresh = "host"\n')
    update_by_hand(root)  # the packaged state, as on a real machine
    return root


def update_by_hand(root: Path) -> None:
    subprocess.run([UPDATE, *flags(root)], check=True, capture_output=True, timeout=120)


def sync(root: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rotator",
            "sync",
            "--offline",
            "--no-cache",
            "-q",
            "--state-dir",
            str(root.parent / f"{root.name}-state"),
            "--config",
            str(root / "rotator.toml"),
            "--sysroot",
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise SystemExit(f"rotator sync failed: {proc.stderr}")


def place_by_hand(root: Path) -> None:
    for root_id in AZURE:
        shutil.copyfile(
            REPO / "rotator/data" / f"{root_id}.pem", root / "usr/local/share/ca-certificates" / f"azure-{root_id}.crt"
        )
    update_by_hand(root)


def timed(fn: Callable[[Path], None], root: Path) -> float:
    start = time.perf_counter()
    fn(root)
    return time.perf_counter() - start


def bundle_count(root: Path) -> int:
    return (root / "etc/ssl/certs/ca-certificates.crt").read_bytes().count(b"BEGIN CERTIFICATE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--packaged", type=int, default=10_000, help="packaged CAs in the tree (default: all)")
    args = parser.parse_args()
    results: dict[str, list[float]] = {k: [] for k in ("sync add", "hand add", "sync no-op", "hand no-op")}
    with tempfile.TemporaryDirectory(prefix="rotator-bench-") as tmp:
        base = Path(tmp)
        for rep in range(args.reps):
            a = build_tree(base / f"sync-{rep}", args.packaged)
            b = build_tree(base / f"hand-{rep}", args.packaged)
            # alternate the order so neither side always runs with a warmer page cache
            pairs = [("sync add", sync, a), ("hand add", place_by_hand, b)]
            for name, fn, root in pairs if rep % 2 == 0 else reversed(pairs):
                results[name].append(timed(fn, root))
            pairs = [("sync no-op", sync, a), ("hand no-op", update_by_hand, b)]
            for name, fn, root in pairs if rep % 2 == 0 else reversed(pairs):
                results[name].append(timed(fn, root))
            if bundle_count(a) != bundle_count(b):
                raise SystemExit(f"bundles differ: rotator {bundle_count(a)}, by hand {bundle_count(b)}")
            for tree in (a, b, base / f"sync-{rep}-state"):
                shutil.rmtree(tree, ignore_errors=True)
        packaged = len(list(MOZILLA.glob("*.crt")))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"redirected Debian tree, {min(args.packaged, packaged)} packaged CAs + 7 Azure roots; "
        f"median of {args.reps} runs"
    )
    print(f"{'case':12} {'rotator sync':>14} {'by hand':>14} {'ratio':>8}")
    for case in ("add", "no-op"):
        s, h = med[f"sync {case}"], med[f"hand {case}"]
        print(f"{case:12} {s * 1000:11.1f} ms {h * 1000:11.1f} ms {s / h:7.2f}x")
    print(
        "rotator sync is a whole `python -m rotator` process (interpreter start, roots verified, plan, "
        "write, refresh); a no-op sync runs no update-ca-certificates at all"
    )


if __name__ == "__main__":
    main()
