"""Fuzz volume: the suite's structure-aware inputs, straight into each reader, by the tens of thousands.

    .venv/bin/python -m benchmarks.fuzz_volume READER [N]      # N inputs (default 50,000)
    .venv/bin/python -m benchmarks.fuzz_volume all 2000         # every reader in turn
    bash benchmarks/fuzz-volumes.sh new [SCALE]                 # all six at 50,000 (x SCALE)

A whole ``rotator.cli.main.main`` run costs about 0.13 s, so 50,000 through it would take two hours
per reader. Here the strategies of tests/support/fuzzing.py (the ones tests/robustness/test_fuzz.py
draws from) feed each reader's own entry point in this process:

    chain-file    chainfile.probe_file + the text and JSON reports (with and without --servername)
    servername    check_servername, then for a valid name the probe of the saved chain with it
    fleet-args    each Ansible module's main() with rotator replaced (tests/support/fleet_modules.py)
    published-page  published_list.parse + compare with the embedded roots
    check-record  upstream.record.load, its time, the daemon's due(), the intermediates it gives probe
    state         sync.state.load, a save-and-load round trip, the recorded targets built into stores

Each input counts as a traceback when it raises anything but rotator's own errors, and as a wrong
answer when the reader's outcome contradicts what the input is known to be (an intact chain must be
trusted, an invalid --servername refused, a module's command line read back to its parameters ...).
The slowest input is the longest single call of the reader (generation not counted), by the wall
clock and by this process's CPU time (on a shared machine a call can wait for the CPU). Exit 1 when a
reader has a traceback, a wrong answer or an input over 2 s of CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from rotator.errors import RotatorError
from tests.support import fuzzing

LIMIT_S = 2.0
Reader = Callable[[Any], "str | None"]  # a wrong answer, or None


@dataclasses.dataclass
class Tally:
    reader: str
    inputs: int = 0
    refused: int = 0  # rotator's own error
    tracebacks: int = 0
    wrong: int = 0
    slowest: float = 0.0  # wall clock
    slowest_cpu: float = 0.0  # CPU time of this process (a busy machine's stalls not counted)
    total: float = 0.0
    examples: list[str] = dataclasses.field(default_factory=list)


class Readers:
    """Each reader's entry point, set up once in one temp directory."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.state_dir = work / "state"
        self.state_dir.mkdir()
        self._requests: dict[tuple[str, str | None], Any] = {}

    # -- probe --chain-file and --servername -----------------------------------------------------------

    def request(self, base: str, servername: str | None) -> Any:
        """The ProbeRequest the command line builds for this base's store (and name), built once."""
        from rotator.cli.arguments import build_parser
        from rotator.cli.main import probe_request
        from rotator.probe.tlsfetch import Endpoint

        key = (base, None if servername is None else "")
        if key not in self._requests:
            chain_base = fuzzing.CHAIN_BASES[base]
            store = self.work / f"store-{base}.pem"
            store.write_bytes(chain_base.store)
            argv = ["probe", "--chain-file", "unused", "--target", f"pem:{store}", "--state-dir", str(self.state_dir)]
            argv += ["--at", chain_base.at] if chain_base.at else []
            argv += ["--servername", fuzzing.SERVER_NAME] if servername is not None else []
            self._requests[key] = probe_request(build_parser().parse_args(argv))
        request = self._requests[key]
        if servername is not None:
            request = dataclasses.replace(request, endpoint=Endpoint(host="", port=0, servername=servername))
        return request

    def judge(self, base: str, data: bytes, servername: str | None) -> Any:
        from rotator.probe import chainfile
        from rotator.report import probe as report

        path = self.work / "chain.txt"
        path.write_bytes(data)
        result = chainfile.probe_file(self.request(base, servername), path)
        report.probe_text(result)
        json.dumps(report.probe_json(result))
        return result

    def chain_file(self, drawn: tuple[fuzzing.ChainCase, bool]) -> str | None:
        case, with_name = drawn
        try:
            result = self.judge(case.base, case.data, fuzzing.SERVER_NAME if with_name else None)
        except RotatorError as exc:
            if case.expect != "any":
                return f"{case.how}: expected {case.expect}, refused: {exc}"
            if not str(exc).startswith("--chain-file: "):
                return f"{case.how}: refused without naming --chain-file: {exc}"
            raise
        if case.expect == "trusted" and not result.ok:
            return f"{case.how}: an intact chain judged not trusted: {[t.reason for t in result.targets]}"
        if case.expect == "untrusted":
            if result.ok:
                return f"{case.how}: judged trusted although a signature cannot be checked"
            if not any(case.finding and case.finding in w for w in result.warnings):
                return f"{case.how}: no finding {case.finding!r} in {result.warnings!r}"
        return None

    def servername(self, name: fuzzing.ServerName) -> str | None:
        from rotator.probe.options import check_servername

        expected = fuzzing.servername_exit(name)
        problem = check_servername(name.value)
        if problem is not None:
            if expected not in (None, 2):
                return f"{name.value!r} refused ({problem}), expected exit {expected}"
            if "\n" in problem or not problem.strip():
                return f"{name.value!r}: the refusal is not one line: {problem!r}"
            raise RotatorError(problem)  # counted as refused
        if expected == 2:
            return f"{name.value!r} accepted, expected a usage error"
        made = fuzzing.CHAIN_BASES["made"]
        result = self.judge("made", fuzzing.transcript(made.ders).encode(), name.value)
        if expected is not None and int(not result.ok) != expected:
            return f"{name.value!r}: verdict {'trusted' if result.ok else 'not trusted'}, expected exit {expected}"
        return None

    # -- the fleet modules ------------------------------------------------------------------------------

    def fleet_args(self, drawn: tuple[tuple[str, dict[str, Any]], bool]) -> str | None:
        from tests.support.fleet_modules import check, run_module

        (name, params), check_mode = drawn
        outcome = run_module(name, params, check_mode=check_mode)
        wrong = check(name, outcome)
        if wrong is None and outcome.result.get("failed"):
            raise RotatorError(outcome.result["msg"])  # refused with a message: counted as refused
        return wrong

    # -- the catalog check: published page and record -----------------------------------------------------

    @property
    def local_roots(self) -> list[tuple[Any, Any]]:
        if not hasattr(self, "_local"):
            from rotator.certs import parse_one
            from rotator.roots.catalog import Catalog

            data = resources.files("rotator.data")
            self._local = []
            for root in Catalog.builtin().roots.values():
                copy = data.joinpath(f"{root.id}.pem")
                self._local.append((root, parse_one(copy.read_bytes()) if copy.is_file() else None))
        return self._local

    def published_page(self, page: bytes) -> str | None:
        from rotator.upstream.published_list import compare, parse

        try:
            text = page.decode("utf-8")
        except UnicodeDecodeError as exc:  # the check reads the page as UTF-8 and says so
            raise RotatorError(str(exc)) from exc
        compare(parse(text, "page.md"), self.local_roots)
        return None

    def check_record(self, data: bytes) -> str | None:
        from rotator.upstream import check, record

        (self.state_dir / record.FILE_NAME).write_bytes(data)
        kept = record.load_or_note(self.state_dir)  # what sync, status, probe and the daemon call
        loaded = record.load(self.state_dir) if kept is None else kept
        if loaded is not None:
            check.due(loaded, 86400, dt.datetime.now(dt.UTC))
            record.intermediates(loaded)
            json.dumps(loaded.to_json())
        return None

    # -- the state file ---------------------------------------------------------------------------------

    def state(self, data: bytes) -> str | None:
        from rotator.config.settings import recorded_targets
        from rotator.sync import state
        from stores.base import StoreContext
        from stores.kinds import build_stores

        (self.state_dir / state.FILE_NAME).write_bytes(data.replace(fuzzing.WORK.encode(), str(self.work).encode()))
        loaded = state.load(self.state_dir)
        again = state._parse(json.loads(json.dumps(loaded.to_json())))
        if again != loaded:
            return "the state read back differs from the state saved"
        context = StoreContext(sysroot=str(self.work / "root"))
        for spec in recorded_targets(self.state_dir):
            try:
                build_stores(spec, context)
            except RotatorError:
                pass
        return None


READERS: dict[str, tuple[Callable[[], st.SearchStrategy[Any]], str]] = {
    "chain-file": (lambda: st.tuples(fuzzing.chain_files(), st.booleans()), "chain_file"),
    "servername": (fuzzing.server_names, "servername"),
    "fleet-args": (lambda: st.tuples(fuzzing.fleet_params(), st.booleans()), "fleet_args"),
    "published-page": (fuzzing.published_pages, "published_page"),
    "check-record": (fuzzing.record_files, "check_record"),
    "state": (fuzzing.state_files, "state"),
}


def drive(name: str, count: int, readers: Readers) -> Tally:
    strategy, method = READERS[name]
    reader: Reader = getattr(readers, method)
    tally = Tally(name)

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy())
    def one(value: Any) -> None:
        tally.inputs += 1
        started, cpu = time.perf_counter(), time.process_time()
        try:
            wrong = reader(value)
        except RotatorError:
            tally.refused += 1
            wrong = None
        except Exception:  # the finding this run exists for
            tally.tracebacks += 1
            wrong = None
            if len(tally.examples) < 5:
                tally.examples.append(f"traceback on {value!r:.300}:\n{traceback.format_exc()}")
        elapsed, used = time.perf_counter() - started, time.process_time() - cpu
        tally.total += elapsed
        tally.slowest = max(tally.slowest, elapsed)
        tally.slowest_cpu = max(tally.slowest_cpu, used)
        if elapsed > LIMIT_S and len(tally.examples) < 5:
            tally.examples.append(f"{elapsed:.2f} s ({used:.2f} s of CPU) on {value!r:.300}")
        if wrong is not None:
            tally.wrong += 1
            if len(tally.examples) < 5:
                tally.examples.append(f"wrong answer: {wrong} (input {value!r:.300})")
        if tally.inputs % 5000 == 0:
            print(f"  {name}: {tally.inputs} inputs, {tally.tracebacks} tracebacks", file=sys.stderr, flush=True)

    one()
    return tally


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz_volume", description=__doc__.split("\n")[0])
    parser.add_argument("reader", choices=[*READERS, "all"])
    parser.add_argument("count", nargs="?", type=int, default=50_000, help="inputs per reader (default 50,000)")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # a damaged record is ignored "with a warning": 50,000 of them
    names = list(READERS) if args.reader == "all" else [args.reader]
    failed = False
    rows = []
    with tempfile.TemporaryDirectory(prefix="rotator-fuzz-volume-") as name:
        for reader in names:
            work = Path(name) / reader
            work.mkdir()
            started = time.monotonic()
            tally = drive(reader, args.count, Readers(work))
            wall = time.monotonic() - started
            for example in tally.examples:
                print(example, file=sys.stderr)
            bad = tally.tracebacks or tally.wrong or tally.slowest_cpu > LIMIT_S
            failed = failed or bool(bad)
            command = f"python -m benchmarks.fuzz_volume {reader} {args.count}"
            rows.append(
                f"| {reader} | {tally.inputs:,} ({tally.refused:,} refused) | {tally.tracebacks} | {tally.wrong} "
                f"| {tally.slowest:.3f} s ({tally.slowest_cpu:.3f} s CPU) | {_duration(wall)} | `{command}` |"
            )
            print(rows[-1], flush=True)
    if len(rows) > 1:
        print("\n| reader | inputs | tracebacks | wrong answers | slowest input | total time | command |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
