"""The system target checks what consumers read after the refresh: the bundle and the Java cacerts
the distribution's hook maintains.

The real update-ca-certificates runs in a redirected Debian tree. Its Java hook is a stand-in in the
tree's hooks dir: Debian's own (ca-certificates-java) processes a dpkg trigger of this machine, which a
test must not touch; it is exercised under a real systemd in test_service_systemd.py. The stand-in does
what Debian's does with its input: ``+/etc/ssl/certs/NAME.pem`` lines become ``debian:NAME.pem`` entries
(imported with keytool), ``-`` lines are ignored.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from rotator.roots.catalog import Catalog
from stores.keystore.base import Format
from stores.keystore.dispatch import new
from tests.support.keytool import KEYTOOL, by_alias
from tests.support.systree import UPDATE_CA_CERTIFICATES, debian_tree, write_script

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not UPDATE_CA_CERTIFICATES.exists() or not os.path.exists(KEYTOOL),
        reason="Debian's ca-certificates and keytool needed",
    ),
]

CATALOG = Catalog.builtin()
POSTGRESQL_IDS = [r.id for r in CATALOG.select("azure-postgresql", [])]
MINIMAL_IDS = [r.id for r in CATALOG.select("azure-minimal", [])]  # a subset: narrowing removes roots
CONFIG = '[[targets]]\nkind = "system"\nrefresh = "host"\n'


def java_hook(image: Path, *, mode: str = "works") -> Path:
    cacerts = image / "etc/ssl/certs/java/cacerts"
    etc_certs = image / "etc/ssl/certs"
    if mode == "fails":
        body = (
            "cat >/dev/null\n"
            'echo "error: cannot open /var/lib/ca-certificates-java: Read-only file system" >&2\nexit 1\n'
        )
    elif mode == "silent":
        body = "cat >/dev/null\nexit 0\n"  # exits 0 and changes nothing: a JVM that never ran
    else:
        body = f"""while read -r line; do
  case "$line" in
    +*) file="${{line#+}}"; name="$(basename "$file")"
        {shlex.quote(KEYTOOL)} -importcert -noprompt -storepass changeit -keystore {shlex.quote(str(cacerts))} \\
          -alias "debian:$name" -file "{etc_certs}/$name" >/dev/null 2>&1 || true ;;
  esac
done
"""
    return write_script(image / "etc/ca-certificates/update.d/jks-keystore", body)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    root = tmp_path / "image"
    debian_tree(root)
    cacerts = root / "etc/ssl/certs/java/cacerts"
    cacerts.parent.mkdir(parents=True)
    cacerts.write_bytes(new(Format.JKS, "changeit").render([], []))
    return root


def sync(run, tmp_path: Path, image: Path, *extra: str):
    config = tmp_path / "rotator.toml"
    config.write_text(CONFIG)
    return run("sync", "--offline", "--config", str(config), "--sysroot", str(image), *extra)


def rotator_aliases(image: Path) -> set[str]:
    return {a for a in by_alias(image / "etc/ssl/certs/java/cacerts", "changeit") if "rotator" in a}


def test_java_cacerts_gets_the_roots_and_loses_the_alias_of_a_removed_anchor(tmp_path: Path, run, image: Path) -> None:
    java_hook(image)
    first = sync(run, tmp_path, image, "--profile", "azure-postgresql")
    assert first.code == 0, first.err
    assert rotator_aliases(image) == {f"debian:rotator-{i}.pem" for i in POSTGRESQL_IDS}

    narrowed = sync(run, tmp_path, image, "--profile", "azure-minimal")
    assert narrowed.code == 0, narrowed.err
    # Debian's hook never removes an alias: rotator removes the one of the anchor it removed, only that.
    assert set(MINIMAL_IDS) < set(POSTGRESQL_IDS)
    assert rotator_aliases(image) == {f"debian:rotator-{i}.pem" for i in MINIMAL_IDS}
    again = sync(run, tmp_path, image, "--profile", "azure-minimal")
    assert again.code == 0 and "up to date" in again.out


def test_a_failed_hook_is_a_failure_with_its_error_and_is_retried(tmp_path: Path, run, image: Path) -> None:
    java_hook(image, mode="fails")
    failed = sync(run, tmp_path, image, "--profile", "azure-postgresql")
    assert failed.code == 1
    assert "a hook failed" in failed.err
    assert "cannot open /var/lib/ca-certificates-java: Read-only file system" in failed.err
    # The anchors were put back: nothing claims the store is right.
    assert not list((image / "usr/local/share/ca-certificates").glob("rotator-*"))

    java_hook(image)
    retried = sync(run, tmp_path, image, "--profile", "azure-postgresql")
    assert retried.code == 0, retried.err
    assert rotator_aliases(image) == {f"debian:rotator-{i}.pem" for i in POSTGRESQL_IDS}


def test_a_java_cacerts_left_stale_is_never_called_up_to_date(tmp_path: Path, run, image: Path) -> None:
    java_hook(image, mode="silent")
    stale = sync(run, tmp_path, image, "--profile", "azure-postgresql")
    assert stale.code == 1
    assert "Java cacerts" in stale.err and "lacks" in stale.err
    still = sync(run, tmp_path, image, "--profile", "azure-postgresql")
    assert still.code == 1, "a consumer lacking the roots must not be reported up to date"
    assert "up to date" not in still.out

    java_hook(image)
    repaired = sync(run, tmp_path, image, "--profile", "azure-postgresql")
    assert repaired.code == 0, repaired.err
    assert rotator_aliases(image) == {f"debian:rotator-{i}.pem" for i in POSTGRESQL_IDS}


def test_a_java_cacerts_no_hook_maintains_is_left_alone(tmp_path: Path, run, image: Path) -> None:
    # ca-certificates-java removed (its hook gone), its cacerts left behind: not a consumer of the refresh.
    result = sync(run, tmp_path, image, "--profile", "azure-postgresql")
    assert result.code == 0, result.err
    assert rotator_aliases(image) == set()
