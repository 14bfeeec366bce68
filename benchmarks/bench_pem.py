"""Offline sync into a PEM bundle, and a no-op re-run, against a plain `cat` of the same roots.

Run: python benchmarks/bench_pem.py   (prints medians and ratios; not a test)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ROTATOR, median_seconds, report, run

DATA = Path(__file__).resolve().parent.parent / "rotator" / "data"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="rotator-bench-"))
    try:
        bundle = work / "azure.pem"
        cat_bundle = work / "cat.pem"
        pems = [str(DATA / f"{i}.pem") for i in (
            "digicert-global-root-g2", "digicert-global-root-g3",
            "digicert-tls-ecc-p384-root-g5", "digicert-tls-rsa4096-root-g5", "microsoft-rsa-root-2017",
            "microsoft-ecc-root-2017", "microsoft-tls-rsa-root-g2")]
        sync = [*ROTATOR, "sync", "--offline", "--no-cache", "--state-dir", str(work / "state"),
                "--target", f"pem:{bundle}"]

        def fresh() -> None:
            bundle.unlink(missing_ok=True)

        def cat() -> None:
            with open(cat_bundle, "wb") as out:
                _cat(pems, out)

        rows = [
            ("cat of the 7 embedded PEMs (no checks)", median_seconds(cat)),
            ("rotator sync --offline, new bundle (7 roots, verified)", median_seconds(lambda: run(sync), fresh)),
        ]
        run(sync)
        rows.append(("rotator sync --offline, no-op re-run", median_seconds(lambda: run(sync))))
        rows.append(("python -c pass (interpreter start, for scale)",
                     median_seconds(lambda: run([sys.executable, "-c", "pass"]))))
        report("PEM bundle, medians of 7 runs", rows, "cat of the 7 embedded PEMs (no checks)")
    finally:
        shutil.rmtree(work)


def _cat(pems: list[str], out: object) -> None:
    import subprocess

    subprocess.run(["cat", *pems], check=True, stdout=out, timeout=60)  # type: ignore[call-overload]


if __name__ == "__main__":
    main()
