"""Side by side: adding the azure-postgresql roots to a copy of the JDK cacerts.

rotator (one process, as a user runs it; and in-process, without interpreter start-up) against
the three `keytool -importcert` calls people run by hand, each from the same starting copy: the
machine's cacerts with those three roots deleted. Prints every timing, the medians and the ratio.

    /path/to/venv/bin/python benchmarks/bench_java.py [--repeat N] [--cacerts FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jks

from rotator.cli.main import main as rotator_main
from tests.support.paths import EMBEDDED as DATA

ROOTS = {  # the azure-postgresql profile: catalog id -> Debian's alias in the JDK cacerts (if it has one)
    "digicert-global-root-g2": "debian:digicert_global_root_g2.pem",
    "microsoft-rsa-root-2017": "debian:microsoft_rsa_root_certificate_authority_2017.pem",
    "microsoft-tls-rsa-root-g2": "debian:microsoft_tls_rsa_root_g2.pem",
}
PASSWORD_VAR = "BENCH_STOREPASS"
PASSWORD = "changeit"


def starting_copy(cacerts: Path, dest: Path) -> Path:
    """The JDK cacerts without the three roots, so both sides really add them."""
    store = jks.KeyStore.loads(cacerts.read_bytes(), PASSWORD)
    entries = [e for alias, e in store.entries.items() if alias not in ROOTS.values()]
    dest.write_bytes(jks.KeyStore.new("jks", entries).saves(PASSWORD))
    return dest


def timed(
    prepare: Callable[[], None], actions: dict[str, Callable[[], None]], repeat: int, after: Callable[[], None]
) -> dict[str, list[float]]:
    """Each repetition runs every action once, in turn, so a busy machine slows all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeat):
        for name, action in actions.items():
            prepare()
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
            after()
    return times


def check(store: Path, expected: int) -> None:
    count = len(jks.KeyStore.loads(store.read_bytes(), PASSWORD).certs)
    if count != expected:
        raise SystemExit(f"benchmark run left {count} entries in {store}, expected {expected}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cacerts", type=Path, default=Path("/etc/ssl/certs/java/cacerts"))
    args = parser.parse_args()
    keytool = shutil.which("keytool")
    rotator = Path(sys.executable).parent / "rotator"
    if keytool is None or not rotator.exists():
        raise SystemExit("needs keytool on PATH and rotator installed beside this python (pip install -e .)")
    os.environ[PASSWORD_VAR] = PASSWORD  # passwords go through the environment, never argv

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = starting_copy(args.cacerts, work / "start.jks")
        base = len(jks.KeyStore.loads(start.read_bytes(), PASSWORD).certs)
        store = work / "cacerts"
        config = work / "rotator.toml"
        config.write_text(f'[[targets]]\nkind = "jks"\npath = "{store}"\nstorepass_env = "{PASSWORD_VAR}"\n')
        rotator_args = [
            "sync",
            "--offline",
            "--no-cache",
            "--quiet",
            "--profile",
            "azure-postgresql",
            "--config",
            str(config),
        ]

        def prepare() -> None:
            shutil.copyfile(start, store)

        def rotator_process() -> None:
            subprocess.run([str(rotator), *rotator_args], check=True, stdout=subprocess.DEVNULL, timeout=120)

        def rotator_in_process() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                if rotator_main(rotator_args) != 0:
                    raise SystemExit("rotator failed")

        def keytool_imports() -> None:
            for root_id in ROOTS:
                subprocess.run(
                    [
                        keytool,
                        "-importcert",
                        "-noprompt",
                        "-alias",
                        root_id,
                        "-file",
                        str(DATA / f"{root_id}.pem"),
                        "-keystore",
                        str(store),
                        "-storepass:env",
                        PASSWORD_VAR,
                    ],
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=120,
                )

        actions = {
            "rotator sync (process)": rotator_process,
            "rotator sync (in-process)": rotator_in_process,
            "keytool -importcert x3": keytool_imports,
        }
        results = timed(prepare, actions, args.repeat, after=lambda: check(store, base + 3))

    print(
        f"starting copy: {args.cacerts} without the 3 azure-postgresql roots ({base} entries); {args.repeat} runs each"
    )
    for name, values in results.items():
        runs = " ".join(f"{v * 1000:.0f}" for v in values)
        print(f"{name:28} median {statistics.median(values) * 1000:7.1f} ms   (runs, ms: {runs})")
    keytool_median = statistics.median(results["keytool -importcert x3"])
    for name in ("rotator sync (process)", "rotator sync (in-process)"):
        ratio = statistics.median(results[name]) / keytool_median
        print(f"{name} / keytool: {ratio:.3f} ({1 / ratio:.1f}x faster; goal: at most 0.25)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
