"""The distributions rotator knows: one table (``DISTROS``) and how a tree is recognised.

Adding a distribution is adding one row: where anchors go, what the refresh reads, the
consolidated bundle it writes, the refresh command, and the evidence that names it.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from rotator.host.files import read_optional
from rotator.records import NamedTuple


class Distro(NamedTuple):
    """One row of the distribution table. Paths are absolute inside the (sys)root."""

    name: str
    label: str
    ids: frozenset[str]  # os-release ID / ID_LIKE words that mean this distribution
    anchor_dir: str
    suffix: str  # what rotator names its anchor files with
    reads: tuple[str, ...]  # suffixes the refresh picks up; empty: every file
    bundle: str  # the consolidated PEM bundle the refresh writes
    refresh: tuple[str, ...]
    refresh_fresh: tuple[str, ...]  # after a removal or replacement (Debian: clears stale links)
    release_files: tuple[str, ...]  # evidence when os-release says nothing we know
    path_flags: tuple[tuple[str, str], ...] = ()  # flag, path: how ``refresh = host`` redirects paths
    # The JDK cacerts the refresh maintains when the distribution's Java trust package is installed
    # (password changeit), and the alias it gives rotator's anchor there ("{}": the root id).
    java_cacerts: str | None = None
    java_alias: str | None = None
    java_hook: str | None = None  # what makes the refresh maintain it, when that is optional


DEBIAN_LOCAL = "/usr/local/share/ca-certificates"

DISTROS: tuple[Distro, ...] = (
    Distro(
        name="debian",
        label="Debian, Ubuntu",
        ids=frozenset({"debian", "ubuntu", "linuxmint", "raspbian", "pop", "kali", "devuan", "elementary"}),
        anchor_dir=DEBIAN_LOCAL,
        suffix=".crt",
        reads=(".crt",),
        bundle="/etc/ssl/certs/ca-certificates.crt",
        refresh=("update-ca-certificates",),
        refresh_fresh=("update-ca-certificates", "--fresh"),
        release_files=("/etc/debian_version",),
        path_flags=(
            ("--certsconf", "/etc/ca-certificates.conf"),
            ("--certsdir", "/usr/share/ca-certificates"),
            ("--localcertsdir", DEBIAN_LOCAL),
            ("--etccertsdir", "/etc/ssl/certs"),
            ("--hooksdir", "/etc/ca-certificates/update.d"),
        ),
        # ca-certificates-java's hook: it adds debian:<name in /etc/ssl/certs>, never removes one.
        java_cacerts="/etc/ssl/certs/java/cacerts",
        java_alias="debian:rotator-{}.pem",
        java_hook="/etc/ca-certificates/update.d/jks-keystore",  # gone: the file is no longer maintained
    ),
    Distro(
        name="rhel",
        label="RHEL, Fedora, CentOS, Rocky, Alma, Amazon Linux, Oracle Linux",
        ids=frozenset({"rhel", "fedora", "centos", "rocky", "almalinux", "amzn", "ol", "scientific"}),
        anchor_dir="/etc/pki/ca-trust/source/anchors",
        suffix=".pem",
        reads=(),
        bundle="/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        refresh=("update-ca-trust", "extract"),
        refresh_fresh=("update-ca-trust", "extract"),
        release_files=("/etc/redhat-release", "/etc/system-release"),
        java_cacerts="/etc/pki/ca-trust/extracted/java/cacerts",  # rewritten whole by each extract
    ),
    Distro(
        name="suse",
        label="SUSE, openSUSE",
        ids=frozenset({"suse", "sles", "sled", "opensuse", "opensuse-leap", "opensuse-tumbleweed"}),
        anchor_dir="/etc/pki/trust/anchors",
        suffix=".pem",
        reads=(),
        bundle="/var/lib/ca-certificates/ca-bundle.pem",
        refresh=("update-ca-certificates",),
        refresh_fresh=("update-ca-certificates",),
        release_files=("/etc/SuSE-release",),
        java_cacerts="/var/lib/ca-certificates/java-cacerts",  # rewritten whole by each refresh
    ),
    Distro(
        name="alpine",
        label="Alpine",
        ids=frozenset({"alpine"}),
        anchor_dir="/usr/local/share/ca-certificates",
        suffix=".crt",
        reads=(".crt",),
        bundle="/etc/ssl/certs/ca-certificates.crt",
        refresh=("update-ca-certificates",),
        refresh_fresh=("update-ca-certificates",),
        release_files=("/etc/alpine-release",),
    ),
    Distro(
        name="arch",
        label="Arch, Manjaro",
        ids=frozenset({"arch", "archarm", "manjaro", "endeavouros"}),
        anchor_dir="/etc/ca-certificates/trust-source/anchors",
        suffix=".crt",
        reads=(),
        bundle="/etc/ca-certificates/extracted/tls-ca-bundle.pem",
        refresh=("trust", "extract-compat"),
        refresh_fresh=("trust", "extract-compat"),
        release_files=("/etc/arch-release",),
    ),
)

BY_NAME = {d.name: d for d in DISTROS}


def under(root: Path, path: str) -> Path:
    """``path`` (absolute inside the image) as seen from this machine."""
    return root / path.lstrip("/")


def os_release(root: Path) -> dict[str, str]:
    """The KEY=value pairs of ``etc/os-release`` (or ``usr/lib/os-release``) under ``root``."""
    for candidate in ("/etc/os-release", "/usr/lib/os-release"):
        data = read_optional(under(root, candidate), "os-release file")
        if data is None:
            continue
        values: dict[str, str] = {}
        for line in data.decode("utf-8", "replace").splitlines():
            key, sep, value = line.strip().partition("=")
            if not sep or key.startswith("#"):
                continue
            try:
                words = shlex.split(value)
            except ValueError:
                words = [value.strip("\"'")]
            values[key] = " ".join(words)
        return values
    return {}


def detect(root: Path) -> Distro | None:
    """os-release ID, then each ID_LIKE word; then release files; then which anchor dir exists."""
    release = os_release(root)
    words = release.get("ID", "").lower().split() + release.get("ID_LIKE", "").lower().split()
    for word in words:
        for distro in DISTROS:
            if word in distro.ids:
                return distro
    for distro in DISTROS:
        if any(os.path.lexists(under(root, f)) for f in distro.release_files):
            return distro
    for distro in DISTROS:
        if under(root, distro.anchor_dir).is_dir():
            return distro
    return None
