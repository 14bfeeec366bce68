"""Every reader of a file says what is wrong with it the same way: rotator.host.files.read_file owns it.

A reader that went back to its own try/except ladder would word a missing file, a directory or a
FIFO its own way (or block on the FIFO); the table below names each reader and the error class its
callers rely on (exit 2 for the user's inputs, 1 for a store or rotator's own state).
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from rotator.errors import ConfigError, RootUnavailable, RotatorError, StoreError
from rotator.host.files import ReadAs, SpecialFile, read_file, read_file_or_none, read_problem


class Reader(NamedTuple):
    name: str  # the file's name where the reader looks for it
    read: Callable[[Path], object]
    error: type[RotatorError]
    exit_code: int
    missing_is_error: bool = True  # False: a missing file is "not made yet" (None, an empty store)
    refuses_fifo: bool = False  # True: a FIFO is refused unopened; False: read like a file (a pipe)


def _config(path: Path) -> object:
    from rotator.config.file import load

    return load(path)


def _chain_file(path: Path) -> object:
    from rotator.probe.chainfile import read

    return read(path)


def _published_list(path: Path) -> object:
    from rotator.roots.download import DownloadSettings
    from rotator.upstream.published_list import fetch

    return fetch(str(path), DownloadSettings())


def _password_file(path: Path) -> object:
    from stores.base import StoreContext, TargetSpec
    from stores.passwords import store_password

    spec = TargetSpec("jks", "x.jks", (("storepass_file", str(path)),), where="targets[0]")
    return store_password(spec, StoreContext(), None)


def _credential(path: Path) -> object:
    from stores.base import StoreContext, TargetSpec
    from stores.passwords import store_password

    spec = TargetSpec("jks", "x.jks", (("storepass_credential", path.name),), where="targets[0]")
    return store_password(spec, StoreContext(environ=(("CREDENTIALS_DIRECTORY", str(path.parent)),)), None)


def _state(path: Path) -> object:
    from rotator.sync.state import load

    return load(path.parent)


def _check_record(path: Path) -> object:
    from rotator.upstream.record import load

    return load(path.parent)


def _pem_bundle(path: Path) -> object:
    from stores.pem import PemBundle

    return PemBundle(path).read()


def _list_unreadable() -> type[RotatorError]:
    from rotator.upstream.published_list import ListUnreadable

    return ListUnreadable


READERS = {
    "config file": Reader("rotator.toml", _config, ConfigError, 2),
    "--chain-file": Reader("chain.txt", _chain_file, ConfigError, 2),
    "catalog check --source": Reader("details.md", _published_list, _list_unreadable(), 2, refuses_fifo=True),
    "storepass_file": Reader("storepass", _password_file, ConfigError, 2),
    "storepass_credential": Reader("app-storepass", _credential, ConfigError, 2),
    "state file": Reader("state.json", _state, RotatorError, 1, missing_is_error=False, refuses_fifo=True),
    "catalog check record": Reader(
        "catalog-check.json", _check_record, RotatorError, 1, missing_is_error=False, refuses_fifo=True
    ),
    "pem target": Reader("roots.pem", _pem_bundle, StoreError, 1, missing_is_error=False, refuses_fifo=True),
}


def _refusal(reader: Reader, path: Path) -> str:
    with pytest.raises(reader.error) as caught:
        reader.read(path)
    assert caught.value.exit_code == reader.exit_code
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize("case", sorted(READERS))
def test_a_directory_is_refused_in_the_same_words_by_every_reader(tmp_path: Path, case: str) -> None:
    reader = READERS[case]
    path = tmp_path / reader.name
    path.mkdir()
    message = _refusal(reader, path)
    assert f"{path} is a directory, not a file; " in message, message


@pytest.mark.parametrize("case", sorted(c for c, r in READERS.items() if r.missing_is_error))
def test_a_missing_file_is_refused_in_the_same_words_by_every_reader(tmp_path: Path, case: str) -> None:
    reader = READERS[case]
    path = tmp_path / reader.name
    message = _refusal(reader, path)
    assert f"{path} not found; " in message, message


@pytest.mark.parametrize("case", sorted(c for c, r in READERS.items() if not r.missing_is_error))
def test_a_file_not_made_yet_is_no_error(tmp_path: Path, case: str) -> None:
    READERS[case].read(tmp_path / READERS[case].name)


@pytest.mark.parametrize("case", sorted(c for c, r in READERS.items() if r.refuses_fifo))
def test_a_fifo_where_rotator_keeps_a_file_is_refused_unopened(tmp_path: Path, case: str) -> None:
    reader = READERS[case]
    path = tmp_path / reader.name
    os.mkfifo(path)  # no writer: opening it would block
    messages: list[str] = []
    worker = threading.Thread(target=lambda: messages.append(_refusal(reader, path)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # it opened the FIFO: give it a writer so the thread ends, then fail
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"{case} opened the FIFO {path} instead of refusing it")
    assert messages, f"{case} did not refuse the FIFO"
    assert f"{path} is not a regular file (a FIFO, device or socket); " in messages[0], messages[0]


def test_a_custom_root_file_is_described_in_the_same_words(tmp_path: Path) -> None:
    from rotator.roots.catalog import Root
    from rotator.roots.obtain import Obtainer, ObtainSettings

    directory = tmp_path / "custom.pem"
    directory.mkdir()
    root = Root(id="custom", name="custom", sha256="0" * 64, file=directory, custom=True)
    obtainer = Obtainer(ObtainSettings(at=dt.datetime.now(dt.UTC), offline=True), write_cache=False)
    with pytest.raises(RootUnavailable) as caught:
        obtainer.obtain(root)
    assert f"{directory}: {read_problem(IsADirectoryError())}" in str(caught.value)


# ------------------------------------------------------------------ the helper itself

AS = ReadAs("test file", "give another", StoreError, where="--test")


def test_each_problem_has_its_words_and_the_next_step(tmp_path: Path) -> None:
    path = tmp_path / "f"
    named = f"test file {path}"
    cases = [
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), f"{named} not found; give another"),
        (IsADirectoryError(errno.EISDIR, "Is a directory"), f"{named} is a directory, not a file; give another"),
        (
            SpecialFile(errno.EINVAL, "x"),
            f"{named} is not a regular file (a FIFO, device or socket); give another",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied"),
            f"cannot read {named}: permission denied; run as its owner (sudo) or through the service",
        ),
        (OSError(errno.EIO, "Input/output error"), f"cannot read {named}: Input/output error; give another"),
    ]
    for exc, expected in cases:
        refused = AS.refusal(path, exc)
        assert isinstance(refused, StoreError) and str(refused) == f"--test: {expected}"
    assert str(ReadAs("").refusal(path, FileNotFoundError())).startswith(f"{path} not found; ")


def test_a_limit_refuses_a_larger_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    assert read_file(path, AS, limit=11) == b"x" * 11
    with pytest.raises(StoreError, match=r"test file .* is larger than 10 bytes; give another"):
        read_file(path, AS, limit=10)
    path.write_bytes(b"x" * (2 * 1024 * 1024 + 1))
    with pytest.raises(StoreError, match="is larger than 2 MiB"):
        read_file(path, AS, limit=2 * 1024 * 1024, pipes=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_permission_denied_names_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("secret")
    path.chmod(0)
    with pytest.raises(StoreError, match="permission denied; run as its owner"):
        read_file(path, AS)


def test_a_pipe_is_read_only_when_the_caller_takes_pipes(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(StoreError, match="is not a regular file"):
        read_file(fifo, AS)
    assert read_file_or_none(tmp_path / "absent", AS) is None

    def write() -> None:
        with open(fifo, "wb") as handle:
            handle.write(b"through a pipe")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert read_file(fifo, AS, pipes=True) == b"through a pipe"
    writer.join(timeout=10)
