"""Every benchmark in one command: medians of whole-process CPU time, each case against its anchor
measured in the same run, on the same machine.

    .venv/bin/python -m benchmarks                       # everything (a few minutes)
    .venv/bin/python -m benchmarks --quick               # 3 runs, bundles up to 10k, no system tree,
                                                         # no 300k-file scan
    .venv/bin/python -m benchmarks --only scan           # one group (repeatable)
    .venv/bin/python -m benchmarks --src /tmp/old-tree   # the same cases against another source tree

CPU time is user+system of the process and every child it waited for (what `time` reports as
user+sys); wall time and peak RSS are shown beside it. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from rotator.roots.catalog import DEFAULT_PROFILE, Catalog
from tests.support.paths import EMBEDDED as DATA
from tests.support.paths import REPO

# The default profile's roots (what a sync without --profile writes), as the manual routes use them.
AZURE = list(Catalog.builtin().profiles[DEFAULT_PROFILE])
PASSWORD_VAR = "BENCH_STOREPASS"
TIME = Path("/usr/bin/time")


@dataclass
class Sample:
    cpu: float
    wall: float
    rss_kb: int


@dataclass
class Case:
    name: str
    samples: list[Sample] = field(default_factory=list)
    anchor: str | None = None  # the case it is compared with (None: it is an anchor)
    note: str = ""

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)


class Spec(NamedTuple):
    """One case of an interleaved group (``Bench.interleaved``)."""

    name: str
    argv: Sequence[str]
    setup: Callable[[], None] | None = None
    anchor: str | None = None
    note: str = ""
    codes: tuple[int, ...] = (0,)


class Bench:
    def __init__(self, src: Path, repeat: int, python: Path) -> None:
        self.src = src
        self.repeat = repeat
        self.python = str(python)  # runs rotator and the interpreter floor (see installed_like)
        self.cases: list[Case] = []
        self.env = {**os.environ, PASSWORD_VAR: "changeit"}
        self.env.pop("PYTHONPATH", None)
        # Installed packages keep compiled bytecode; so does every run here.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        for var in ("ROTATOR_CONFIG", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
            self.env.pop(var, None)

    def rotator(self, *args: str) -> list[str]:
        return [self.python, "-m", "rotator", *args]

    def once(self, argv: Sequence[str], codes: tuple[int, ...] = (0,)) -> Sample:
        """One run; an exit code not in ``codes`` stops the benchmark. Peak RSS comes from GNU time
        where installed: a child started from this process inherits its peak RSS as its own until
        exec, so wait4 alone cannot report less."""
        import time

        rss_file = None
        if TIME.exists():
            rss_file = tempfile.NamedTemporaryFile(suffix=".rss")  # closed below
            argv = [str(TIME), "-f", "%M", "-o", rss_file.name, *argv]
        program = shutil.which(argv[0]) or argv[0]
        with tempfile.TemporaryFile() as err:
            actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
            cwd = os.getcwd()
            os.chdir(self.src)  # posix_spawn has no cwd argument; the child inherits this one
            try:
                started = time.perf_counter()
                pid = os.posix_spawn(program, list(argv), self.env, file_actions=actions)
                _, status, usage = os.wait4(pid, 0)
                wall = time.perf_counter() - started
            finally:
                os.chdir(cwd)
            code = os.waitstatus_to_exitcode(status)
            if code not in codes:
                err.seek(0)
                raise SystemExit(f"benchmark command failed ({code}): {' '.join(argv)}\n{err.read().decode()}")
        rss_kb = usage.ru_maxrss
        if rss_file is not None:
            with rss_file:
                rss_kb = int(Path(rss_file.name).read_text().split()[-1])
        return Sample(cpu=usage.ru_utime + usage.ru_stime, wall=wall, rss_kb=rss_kb)

    def case(
        self,
        name: str,
        argv: Sequence[str],
        *,
        setup: Callable[[], None] | None = None,
        anchor: str | None = None,
        note: str = "",
        repeat: int | None = None,
        codes: tuple[int, ...] = (0,),
    ) -> Case:
        case = Case(name=name, anchor=anchor, note=note)
        for _ in range(repeat or self.repeat):
            if setup is not None:
                setup()
            case.samples.append(self.once(argv, codes))
        self.cases.append(case)
        print(f"  measured: {name}", file=sys.stderr)
        return case

    def interleaved(self, specs: Sequence[Spec], repeat: int | None = None) -> list[Case]:
        """The cases run in turn, one sample of each per round, so a machine busy with other work
        slows each case alike and their ratios hold even when the absolute figures move."""
        cases = [Case(name=s.name, anchor=s.anchor, note=s.note) for s in specs]
        for _ in range(repeat or self.repeat):
            for spec, case in zip(specs, cases, strict=True):
                if spec.setup is not None:
                    spec.setup()
                case.samples.append(self.once(spec.argv, spec.codes))
        for case in cases:
            self.cases.append(case)
            print(f"  measured: {case.name}", file=sys.stderr)
        return cases

    def skipped(self, name: str, why: str) -> None:
        self.cases.append(Case(name=name, note=f"skipped: {why}"))

    def table(self) -> str:
        by_name = {c.name: c for c in self.cases}
        lines = [f"{'case':62} {'cpu ms':>9} {'wall ms':>9} {'max RSS':>9}  ratio (cpu)"]
        for c in self.cases:
            if not c.samples:
                lines.append(f"{c.name:62} {'':>9} {'':>9} {'':>9}  {c.note}")
                continue
            ratio = ""
            if c.anchor is not None and by_name.get(c.anchor) and by_name[c.anchor].samples:
                anchor = by_name[c.anchor]
                ratio = (
                    f"{c.median('cpu') / anchor.median('cpu'):7.2f}x of {c.anchor} "
                    f"(wall {c.median('wall') / anchor.median('wall'):.2f}x)"
                )
            rss = statistics.median(s.rss_kb for s in c.samples) / 1024
            lines.append(
                f"{c.name:62} {c.median('cpu') * 1000:9.1f} {c.median('wall') * 1000:9.1f} "
                f"{rss:7.1f}MB  {ratio}{'  ' + c.note if c.note else ''}"
            )
        return "\n".join(lines)


# -- inputs -------------------------------------------------------------------------------------


def installed_like(work: Path, src: Path) -> Path:
    """An interpreter that imports rotator and its dependencies as from an installation: a venv
    whose .pth file lists the source tree and this interpreter's site-packages as plain paths.

    Not this checkout's venv itself: its editable install runs a finder at every start-up that
    imports pathlib, re and more, which inflated the floor (`python -c pass` 18 ms there, 7 ms
    installed) and flattered every ratio to it.
    """
    env = work / "installed-like"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    site_dir = next((env / "lib").glob("python*/site-packages"))
    deps = [entry for entry in sys.path if entry.endswith("site-packages")]
    (site_dir / "rotator-bench.pth").write_text("\n".join([str(src), *deps]) + "\n")
    return env / "bin" / "python"


def write_bundle(path: Path, count: int) -> None:
    """``count`` distinct certificates, made fast: one signed template, serials rewritten in place.

    The signatures of all but the template no longer verify, which neither rotator nor
    ``openssl storeutl`` checks when reading a bundle; each has its own SHA-256.
    """
    import base64
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Benchmark CA")])
    serial = 0x5A << 120
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    template = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    ).public_bytes(serialization.Encoding.DER)
    marker = serial.to_bytes(16, "big")
    at = template.index(marker)
    with open(path, "wb") as out:
        out.write(b"# a distribution bundle stand-in\n")
        for i in range(count):
            der = template[:at] + (serial + i).to_bytes(16, "big") + template[at + 16 :]
            body = base64.encodebytes(der).replace(b"\n", b"")
            lines = b"\n".join(body[j : j + 64] for j in range(0, len(body), 64))
            out.write(b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n")


def der_copies(directory: Path, root_ids: Sequence[str]) -> list[Path]:
    """Roots as DER files, the form Microsoft serves them in (the manual route starts there)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for root_id in root_ids:
        der = directory / f"{root_id}.der"
        subprocess.run(
            ["openssl", "x509", "-in", str(DATA / f"{root_id}.pem"), "-outform", "DER", "-out", str(der)],
            check=True,
            timeout=60,
        )
        out.append(der)
    return out


def reset(*paths: Path) -> Callable[[], None]:
    def clear() -> None:
        for path in paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()

    return clear


def restore(pairs: Sequence[tuple[Path, Path]]) -> Callable[[], None]:
    """Put saved copies back (files or directories) before each run."""

    def put_back() -> None:
        for saved, live in pairs:
            reset(live)()
            if saved.is_dir():
                shutil.copytree(saved, live, symlinks=True)
            else:
                shutil.copyfile(saved, live)

    return put_back


def fresh_copy(source: Path, live: Path, state: Path) -> Callable[[], None]:
    def put_back() -> None:
        reset(state)()
        restore([(source, live)])()

    return put_back


# -- the cases ----------------------------------------------------------------------------------


def startup(b: Bench, work: Path) -> None:
    print("start-up and no-op", file=sys.stderr)
    floor = "python -c pass"
    imports = "python: import argparse, logging, json, hashlib, pathlib"
    state = work / "noop-state"
    one = b.rotator(
        "sync", "--offline", "--no-cache", "--state-dir", str(state), "--target", f"pem:{work / 'noop.pem'}"
    )
    three = b.rotator(
        "sync",
        "--offline",
        "--no-cache",
        "--state-dir",
        str(work / "noop3-state"),
        "--target",
        f"pem:{work / 'noop3.pem'}",
        "--target",
        f"jks:{work / 'noop3.jks'}",
        "--target",
        f"pkcs12:{work / 'noop3.p12'}",
        "--storepass-env",
        PASSWORD_VAR,
    )
    for _ in range(2):  # write, then the first full read that stamps it
        b.once(one)
        b.once(three)
    b.interleaved(
        [
            Spec(floor, [b.python, "-c", "pass"]),
            Spec(
                imports,
                [b.python, "-c", "import argparse, logging, json, hashlib, pathlib"],
                anchor=floor,
                note="what any such command line imports",
            ),
            Spec("rotator --version", b.rotator("--version"), anchor=floor),
            Spec("rotator sync --help", b.rotator("sync", "--help"), anchor=floor),
            Spec("rotator catalog", b.rotator("catalog"), anchor=floor),
            Spec("no-op sync, one PEM bundle", one, anchor=floor),
            Spec("no-op sync, pem + jks + pkcs12", three, anchor=floor),
            # The same run against the import floor, the budget docs/performance.md sets a no-op.
            Spec("no-op sync, pem + jks + pkcs12 (vs imports)", three, anchor=imports),
        ]
    )


def new_bundle(b: Bench, work: Path) -> None:
    print("a new bundle of the 7 roots", file=sys.stderr)
    # Azure's documented route: DigiCert serves PEM files, which are concatenated as they are;
    # Microsoft serves DER, one `openssl x509 -inform DER` each.
    microsoft = [r for r in AZURE if r.startswith("microsoft-")]
    ders = der_copies(work / "der", microsoft)
    pems = [DATA / f"{r}.pem" for r in AZURE if r not in microsoft]
    out = work / "manual"
    script = " && ".join(f"openssl x509 -inform DER -in {d} -out {out}/{d.stem}.pem" for d in ders)
    script += f" && cat {' '.join(map(str, pems))} {' '.join(f'{out}/{d.stem}.pem' for d in ders)} > {out}/bundle.pem"
    manual = f"manual: cat {len(pems)} PEMs + openssl x509 -inform DER x{len(ders)}"
    bundle, state = work / "new.pem", work / "new-state"
    specs = [
        Spec(manual, ["sh", "-c", script], setup=lambda: (reset(out)(), out.mkdir()), note="no pin or CA check"),
        Spec(
            "rotator sync: new bundle, 7 roots verified",
            b.rotator("sync", "--offline", "--no-cache", "--state-dir", str(state), "--target", f"pem:{bundle}"),
            setup=reset(bundle, state),
            anchor=manual,
        ),
    ]
    trust = shutil.which("trust")
    if trust:
        # `trust anchor` would change the machine's trust store: only the read-only extraction.
        target = work / "p11.pem"
        specs.append(
            Spec(
                "p11-kit: trust extract (system anchors, read-only)",
                [trust, "extract", "--format=pem-bundle", "--filter=ca-anchors", "--overwrite", str(target)],
                anchor=manual,
            )
        )
    else:
        b.skipped("p11-kit: trust extract", "p11-kit's trust is not installed")
    b.interleaved(specs)


def pem_sizes(b: Bench, work: Path, sizes: Sequence[int]) -> None:
    roots = work / "roots.pem"
    roots.write_bytes(b"".join((DATA / f"{r}.pem").read_bytes() for r in AZURE))
    for size in sizes:
        print(f"PEM bundle of {size} certificates", file=sys.stderr)
        label = f"{size // 1000}k"
        source = work / f"bundle-{label}.pem"
        write_bundle(source, size)
        repeat = b.repeat if size < 100_000 else max(3, b.repeat // 2)
        cat = f"cat {label} + 7 roots > file"
        out = work / f"cat-{label}.pem"
        b.case(cat, ["sh", "-c", f"cat {source} {roots} > {out}"], anchor=None, repeat=repeat)
        storeutl = f"openssl storeutl -certs {label} (parse only)"
        b.case(storeutl, ["openssl", "storeutl", "-noout", "-certs", str(source)], anchor=cat, repeat=repeat)
        live, state = work / f"live-{label}.pem", work / f"state-{label}"
        sync = b.rotator("sync", "--offline", "--no-cache", "-q", "--state-dir", str(state), "--target", f"pem:{live}")
        b.case(
            f"rotator add 7 roots to {label}", sync, setup=fresh_copy(source, live, state), anchor=cat, repeat=repeat
        )
        saved, saved_state = work / f"saved-{label}.pem", work / f"saved-state-{label}"
        shutil.copyfile(live, saved)
        shutil.copytree(state, saved_state)
        b.case(
            f"rotator no-op on {label}, first full read",
            sync,
            setup=restore([(saved, live), (saved_state, state)]),
            anchor=cat,
            repeat=repeat,
        )
        b.once(sync)
        b.case(f"rotator no-op on {label}, unchanged since verified", sync, anchor=cat, repeat=repeat)
        for path in (source, out, live, saved):
            path.unlink()


def pem_dir(b: Bench, work: Path) -> None:
    print("pem-dir", file=sys.stderr)
    directory = work / "hashdir"
    pems = " ".join(str(DATA / f"{r}.pem") for r in AZURE)
    anchor = "cp 7 PEMs + openssl rehash"
    b.case(
        anchor,
        ["sh", "-c", f"cp {pems} {directory}/ && openssl rehash {directory}"],
        setup=lambda: (reset(directory)(), directory.mkdir()),
    )
    state = work / "pemdir-state"
    b.case(
        "rotator sync pem-dir: 7 roots",
        b.rotator("sync", "--offline", "--no-cache", "--state-dir", str(state), "--target", f"pem-dir:{directory}"),
        setup=lambda: (reset(directory, state)(), directory.mkdir()),
        anchor=anchor,
    )


def java(b: Bench, work: Path) -> None:
    keytool = shutil.which("keytool")
    if keytool is None:
        b.skipped("keytool -importcert x7", "keytool is not installed")
        return
    for kind, storetype in (("jks", "JKS"), ("pkcs12", "PKCS12")):
        print(f"Java {kind}", file=sys.stderr)
        store = work / f"bench.{kind}"
        script = " && ".join(
            f"{keytool} -importcert -noprompt -alias {r} -file {DATA / f'{r}.pem'} -keystore {store} "
            f"-storetype {storetype} -storepass:env {PASSWORD_VAR} >/dev/null 2>&1"
            for r in AZURE
        )
        anchor = f"keytool -importcert x7 into a new {storetype}"
        b.case(anchor, ["sh", "-c", script], setup=reset(store), repeat=max(3, b.repeat // 2))
        state = work / f"{kind}-state"
        b.case(
            f"rotator sync {kind}: new store, 7 roots",
            b.rotator(
                "sync",
                "--offline",
                "--no-cache",
                "--state-dir",
                str(state),
                "--target",
                f"{kind}:{store}",
                "--storepass-env",
                PASSWORD_VAR,
            ),
            setup=reset(store, state),
            anchor=anchor,
        )
    java_cacerts(b, work, keytool)


# The azure-postgresql profile: catalog id -> Debian's alias for it in the JDK cacerts.
POSTGRES_ROOTS = {
    "digicert-global-root-g2": "debian:digicert_global_root_g2.pem",
    "microsoft-rsa-root-2017": "debian:microsoft_rsa_root_certificate_authority_2017.pem",
    "microsoft-tls-rsa-root-g2": "debian:microsoft_tls_rsa_root_g2.pem",
}
CACERTS = Path("/etc/ssl/certs/java/cacerts")


def keytool_count(keytool: str, store: Path, env: dict[str, str]) -> int:
    proc = subprocess.run(
        [keytool, "-list", "-keystore", str(store), "-storepass:env", PASSWORD_VAR],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    line = next(line for line in proc.stdout.splitlines() if line.startswith("Your keystore contains"))
    return int(line.split()[3])


def java_cacerts(b: Bench, work: Path, keytool: str) -> None:
    """The 3 azure-postgresql roots added to the JDK's cacerts (a JKS of about 144 trusted certificates,
    as keytool wrote it) without them, against the three keytool -importcert calls the docs show."""
    if not CACERTS.is_file() or CACERTS.read_bytes()[:4] != bytes.fromhex("feedfeed"):
        b.skipped("keytool -importcert x3 into a JDK cacerts", f"{CACERTS} is not a JKS file")
        return
    print("Java: the azure-postgresql roots into a JDK cacerts", file=sys.stderr)
    start, store, state = work / "cacerts-start", work / "cacerts", work / "cacerts-state"
    shutil.copyfile(CACERTS, start)
    for alias in POSTGRES_ROOTS.values():  # keytool's own bytes, so both sides really add all three
        subprocess.run(
            [keytool, "-delete", "-alias", alias, "-keystore", str(start), "-storepass:env", PASSWORD_VAR],
            env=b.env, capture_output=True, timeout=120, check=False,
        )  # fmt: skip
    base = keytool_count(keytool, start, b.env)
    script = " && ".join(
        f"{keytool} -importcert -noprompt -alias {r} -file {DATA / f'{r}.pem'} -keystore {store} "
        f"-storepass:env {PASSWORD_VAR} >/dev/null 2>&1"
        for r in POSTGRES_ROOTS
    )
    sync = b.rotator(
        "sync", "--offline", "--no-cache", "-q", "--profile", "azure-postgresql", "--state-dir", str(state),
        "--target", f"jks:{store}", "--storepass-env", PASSWORD_VAR,
    )  # fmt: skip
    fresh = fresh_copy(start, store, state)
    fresh()
    b.once(sync)
    if keytool_count(keytool, store, b.env) != base + 3:
        raise SystemExit(f"rotator did not leave {base + 3} entries in {store}")
    anchor = f"keytool -importcert x3 into cacerts ({base} entries)"
    b.interleaved(
        [
            Spec(anchor, ["sh", "-c", script], setup=fresh),
            Spec(f"rotator sync jks: 3 roots into cacerts ({base} entries)", sync, setup=fresh, anchor=anchor),
        ],
        repeat=max(3, b.repeat // 2),
    )


def system(b: Bench, work: Path) -> None:
    if not Path("/usr/sbin/update-ca-certificates").exists():
        b.skipped("update-ca-certificates", "not installed (Debian's ca-certificates)")
        return
    print("system (a redirected Debian tree)", file=sys.stderr)
    from benchmarks.bench_system import UPDATE, build_tree, flags

    template = build_tree(work / "systree", 10_000)
    tree, state = work / "systree-live", work / "systree-state"
    crts = " ".join(str(DATA / f"{r}.pem") for r in AZURE)
    local = tree / "usr/local/share/ca-certificates"
    by_hand = "copy 7 roots as .crt + update-ca-certificates"
    script = (
        f"for f in {crts}; do cp $f {local}/azure-$(basename $f .pem).crt; done && "
        f"{UPDATE} {' '.join(flags(tree))} >/dev/null"
    )
    fresh = restore([(template, tree)])
    repeat = max(3, b.repeat // 2)
    b.case(by_hand, ["sh", "-c", script], setup=fresh, repeat=repeat)
    sync = b.rotator(
        "sync",
        "--offline",
        "--no-cache",
        "-q",
        "--state-dir",
        str(state),
        "--config",
        str(tree / "rotator.toml"),
        "--sysroot",
        str(tree),
    )
    b.case(
        "rotator sync system: 7 roots + refresh",
        sync,
        setup=lambda: (fresh(), reset(state)()),
        anchor=by_hand,
        repeat=repeat,
    )
    again = "update-ca-certificates again, nothing changed"
    b.case(again, [UPDATE, *flags(tree)], repeat=repeat)
    b.case("rotator sync system: no-op", sync, anchor=again, repeat=repeat)


# The trees scan walks: the smaller in every run, the larger (the same tree grown) in full runs only.
SCAN_FILES, SCAN_FILES_LARGE = 100_000, 300_000
SCAN_VENV = "srv/app/.venv"
CERTIFI_INSIDE = f"/{SCAN_VENV}/lib/python3.11/site-packages/certifi/cacert.pem"
CACERTS_INSIDE = "/usr/lib/jvm/bench-jdk/lib/security/cacerts"


def scan_files(root: Path, start: int, stop: int) -> None:
    """Files ``start`` up to ``stop`` (multiples of 1,000) of usr/share, where scan walks:
    pkgNNN/subN/fileNN.txt, 100 small files to a directory. os.open and os.write on plain
    strings, not pathlib: 100,000 files take about 3 s to make."""
    data = b"not a trust store\n"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for package in range(start // 1000, stop // 1000):
        for sub in range(10):
            directory = f"{root}/usr/share/pkg{package:03d}/sub{sub}"
            os.makedirs(directory)
            for n in range(100):
                fd = os.open(f"{directory}/file{n:02d}.txt", flags, 0o644)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)


def plant_stores(root: Path) -> tuple[list[str], str]:
    """Real stores among the files, and a passwd: certifi's bundle in a virtualenv and, where a JDK
    is installed, a copy of its cacerts. Returns their paths as inside the tree, and what was planted."""
    import certifi

    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    certifi_copy = root / CERTIFI_INSIDE.lstrip("/")
    certifi_copy.parent.mkdir(parents=True)
    shutil.copyfile(certifi.where(), certifi_copy)
    (root / SCAN_VENV / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n")
    planted, what = [CERTIFI_INSIDE], "certifi"
    jdks = sorted(p for p in Path("/usr/lib/jvm").glob("*/lib/security/cacerts") if p.is_file())
    if jdks:
        cacerts = root / CACERTS_INSIDE.lstrip("/")
        cacerts.parent.mkdir(parents=True)
        shutil.copyfile(jdks[0], cacerts)  # the file itself: Debian's is a link into /etc/ssl/certs/java
        kind = "JKS" if cacerts.read_bytes()[:4] == b"\xfe\xed\xfe\xed" else "PKCS#12"
        planted.append(CACERTS_INSIDE)
        what += f" + a {kind} cacerts"
    return planted, what


def check_scan(b: Bench, argv: Sequence[str], planted: list[str], files: int) -> None:
    """A scan that found nothing would be fast for the wrong reason: the planted stores must be
    judged, and every file walked."""
    proc = subprocess.run(
        [*argv, "--json"], env=b.env, cwd=b.src, capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({proc.returncode}): {proc.stderr}")
    doc = json.loads(proc.stdout)
    found = {store["path"] for store in doc["stores"]}
    if not set(planted) <= found or doc["summary"]["entries_walked"] < files or not doc["summary"]["complete"]:
        raise SystemExit(f"scan did not find the planted stores {planted} in {files} files: {doc['summary']}")


def host_scan(b: Bench, work: Path, large: bool) -> None:
    tree = work / "scan-tree"
    planted, what = plant_stores(tree)
    sizes = [SCAN_FILES, SCAN_FILES_LARGE] if large else [SCAN_FILES]
    rss: list[float] = []
    made = 0
    for files in sizes:
        label = f"{files // 1000}k"
        print(f"scan of a tree of {label} files", file=sys.stderr)
        scan_files(tree, made, files)  # the larger tree is the smaller one grown
        made = files
        os.sync()  # the new files written out now, not while a case runs
        scan = b.rotator("scan", "--sysroot", str(tree))
        check_scan(b, scan, planted, files)
        repeat = b.repeat if files <= SCAN_FILES else max(3, b.repeat // 2)
        find = f"find {label} files -type f"
        b.case(find, ["find", str(tree), "-type", "f"], repeat=repeat)
        # Exit code 1 is an answer, not a failure: scan exits 1 when a store fails a chain.
        case = b.case(
            f"rotator scan --sysroot, {label} files", scan, anchor=find, repeat=repeat, codes=(0, 1), note=what
        )
        rss.append(statistics.median(s.rss_kb for s in case.samples) / 1024)
        if files == SCAN_FILES:
            # What a scan costs before it walks a file: start-up, imports, Azure's chains read.
            empty = work / "scan-empty"
            (empty / "etc").mkdir(parents=True)
            b.case("rotator scan --sysroot, an empty root", b.rotator("scan", "--sysroot", str(empty)), anchor=find)
    if not large:
        b.skipped(f"rotator scan --sysroot, {SCAN_FILES_LARGE // 1000}k files", "not in --quick")
        return
    b.cases.append(
        Case(
            name=f"scan peak RSS, {SCAN_FILES // 1000}k / {SCAN_FILES_LARGE // 1000}k files",
            note=f"{rss[0]:.1f} MB / {rss[1]:.1f} MB: {rss[1] - rss[0]:+.1f} MB for 3x the files",
        )
    )


DAEMON_SCRIPT = """
import argparse, os, sys, time, contextlib, io
from dataclasses import replace
try:  # the layout by concern; older sources had every module at the top of rotator/
    from rotator.sync import engine
    from rotator.config import settings
except ImportError:
    from rotator import engine, settings
resolve = settings.resolve
try:  # the typed flags of newer sources; older ones read an argparse namespace
    Flags = settings.Flags
    args = Flags(config=sys.argv[1], offline=True, no_cache=True, state_dir=sys.argv[2])
except AttributeError:
    args = argparse.Namespace(config=sys.argv[1], offline=True, no_cache=True, state_dir=sys.argv[2], target=None)
def changed(record, **changes):  # the request is a named tuple now, a dataclass in older sources
    return record._replace(**changes) if hasattr(record, "_replace") else replace(record, **changes)
request = changed(resolve(args, os.environ).request, with_status=True)
if hasattr(engine, "StatusReads"):  # the daemon's memory of earlier status reads, where it exists
    request = changed(request, status_reads=engine.StatusReads())
def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
cpu = []
for cycle in range(1, 51):
    start = time.process_time()
    result = engine.sync(request)
    assert result.ok and result.status is not None and result.status.compliant, result
    cpu.append(time.process_time() - start)
    if cycle == 1:
        first = rss_kb()
cpu.sort()
print(first, rss_kb(), cpu[len(cpu) // 2])
"""


def daemon(b: Bench, work: Path) -> None:
    print("daemon: 50 cycles of sync + status in one process", file=sys.stderr)
    bundle = work / "daemon.pem"
    write_bundle(bundle, 1000)
    config = work / "daemon.toml"
    config.write_text(
        f'[[targets]]\nkind = "pem"\npath = "{bundle}"\n'
        f'[[targets]]\nkind = "jks"\npath = "{work / "daemon.jks"}"\nstorepass_env = "{PASSWORD_VAR}"\n'
        f'[[targets]]\nkind = "pkcs12"\npath = "{work / "daemon.p12"}"\nstorepass_env = "{PASSWORD_VAR}"\n'
        f'[[targets]]\nkind = "pem-dir"\npath = "{work / "daemon-dir"}"\n'
    )
    # A service restarts with its stores in place: written and verified by earlier runs.
    prime = b.rotator(
        "sync", "--offline", "--no-cache", "--config", str(config), "--state-dir", str(work / "daemon-state")
    )
    for _ in range(2):
        b.once(prime)
    proc = subprocess.run(
        [b.python, "-c", DAEMON_SCRIPT, str(config), str(work / "daemon-state")],
        env=b.env,
        cwd=b.src,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SystemExit(f"daemon benchmark failed: {proc.stderr}")
    first, last, cycle = proc.stdout.split()
    growth = (int(last) - int(first)) / 1024
    b.cases.append(
        Case(
            name="daemon RSS after cycle 1 / after cycle 50",
            note=f"{int(first) / 1024:.1f} MB / {int(last) / 1024:.1f} MB: growth {growth:+.2f} MB; "
            f"median cycle {float(cycle) * 1000:.1f} ms cpu "
            "(pem 1k + jks + pkcs12 + pem-dir, in place)",
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per case; the median is shown (default 7)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="PEM bundle sizes (default 1000,10000,100000)")
    parser.add_argument("--src", type=Path, default=REPO, help="the rotator source tree to run (default: this one)")
    parser.add_argument(
        "--quick", action="store_true", help="3 runs, bundles up to 10k, no system tree, no 300k-file scan"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=["startup", "bundle", "pem", "pem-dir", "java", "system", "daemon", "scan"],
        help="run only these groups",
    )
    args = parser.parse_args()
    repeat = 3 if args.quick else args.repeat
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.quick:
        sizes = [s for s in sizes if s <= 10_000]
    groups = args.only or ["startup", "bundle", "pem", "pem-dir", "java", "daemon", "scan"] + (
        [] if args.quick else ["system"]
    )
    venv_dir = tempfile.TemporaryDirectory(prefix="rotator-bench-venv-")
    bench = Bench(args.src.resolve(), repeat, installed_like(Path(venv_dir.name), args.src.resolve()))
    # Bytecode for every module, as an install compiles it, so no case pays for compiling.
    sources = [str(bench.src / "rotator"), str(bench.src / "stores")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *sources], env=bench.env, check=True, timeout=300)
    runners: dict[str, Callable[[Bench, Path], None]] = {
        "startup": startup,
        "bundle": new_bundle,
        "pem": lambda b, w: pem_sizes(b, w, sizes),
        "pem-dir": pem_dir,
        "java": java,
        "system": system,
        "daemon": daemon,
        "scan": lambda b, w: host_scan(b, w, large=not args.quick),
    }
    failed = False
    with tempfile.TemporaryDirectory(prefix="rotator-bench-") as tmp:
        work = Path(tmp)
        # Each case names its own state directory; the locks stay in this run's directory too.
        bench.env["ROTATOR_LOCK_DIR"] = str(work / "locks")
        for group in groups:
            try:
                runners[group](bench, work)
            except (Exception, SystemExit) as exc:  # one broken group must not lose the others' figures
                failed = True
                bench.skipped(f"group {group}", f"failed: {exc}")
    print(
        f"rotator from {bench.src}; python {sys.version.split()[0]}; {os.cpu_count()} CPUs; "
        f"medians of {repeat} runs (100k bundles, JVM/system cases and the 300k scan: fewer)"
    )
    print(bench.table())
    venv_dir.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
