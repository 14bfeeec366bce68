"""rotator.records.NamedTuple behaves as typing.NamedTuple at run time: the same class body gives
records that are equal, hash, print, pickle, replace and fail alike."""

from __future__ import annotations

import pickle
import sys
import typing

import pytest

from rotator import records


class Point(records.NamedTuple):
    """A point."""

    x: int
    y: int = 0
    label: str = "p"

    def norm(self) -> int:
        return abs(self.x) + abs(self.y)

    @property
    def twice(self) -> tuple[int, int]:
        return (2 * self.x, 2 * self.y)


class TypingPoint(typing.NamedTuple):
    """A point."""

    x: int
    y: int = 0
    label: str = "p"

    def norm(self) -> int:
        return abs(self.x) + abs(self.y)

    @property
    def twice(self) -> tuple[int, int]:
        return (2 * self.x, 2 * self.y)


class One(records.NamedTuple):
    only: str


def test_a_record_is_the_tuple_typing_would_make() -> None:
    ours, theirs = Point(3, y=-4), TypingPoint(3, y=-4)
    assert ours == theirs == (3, -4, "p") and hash(ours) == hash(theirs)
    assert isinstance(ours, tuple) and not hasattr(ours, "__dict__")
    assert (ours.x, ours.y, ours.label, ours.norm(), ours.twice) == (3, -4, "p", 7, (6, -8))
    assert repr(ours) == repr(theirs).replace("TypingPoint", "Point") == "Point(x=3, y=-4, label='p')"
    assert Point._fields == TypingPoint._fields == ("x", "y", "label")
    assert Point._field_defaults == TypingPoint._field_defaults == {"y": 0, "label": "p"}
    assert Point.__match_args__ == ("x", "y", "label") and Point.__doc__ == "A point."
    assert ours._asdict() == theirs._asdict() == {"x": 3, "y": -4, "label": "p"}
    assert ours._replace(label="q") == Point(3, -4, "q") and type(ours._replace(x=1)) is Point
    assert Point._make([1, 2, "z"]) == Point(1, 2, "z")
    assert pickle.loads(pickle.dumps(ours)) == ours and type(pickle.loads(pickle.dumps(ours))) is Point
    assert One("a") == ("a",) and One(only="b").only == "b"
    assert Point.__new__.__qualname__ == "Point.__new__" and Point.__module__ == __name__
    match ours:
        case Point(x, y):
            assert (x, y) == (3, -4)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda cls: cls(), TypeError),  # x is missing
        (lambda cls: cls(1, 2, "l", 4), TypeError),
        (lambda cls: cls(1, z=2), TypeError),
        (lambda cls: cls(1)._replace(z=2), TypeError if sys.version_info >= (3, 13) else ValueError),
        (lambda cls: cls._make([1]), TypeError),
    ],
)
def test_a_record_refuses_what_typing_refuses(call: typing.Callable[[type], object], error: type) -> None:
    for cls in (Point, TypingPoint):
        with pytest.raises(error):
            call(cls)


def test_records_of_the_same_arity_keep_their_own_names() -> None:
    class A(records.NamedTuple):
        a: int
        b: int

    class B(records.NamedTuple):
        c: int
        d: int = 5

    assert A(b=1, a=2) == (2, 1) and B(c=7) == (7, 5) and A(1, 2).b == 2 and B(1).d == 5
    with pytest.raises(TypeError):
        A(c=1, d=2)  # type: ignore[call-arg]


def test_a_body_typing_refuses_is_refused() -> None:
    with pytest.raises(TypeError, match="non-default field"):

        class Bad(records.NamedTuple):
            a: int = 1
            b: int

    with pytest.raises(AttributeError):

        class Worse(records.NamedTuple):
            a: int

            def _asdict(self) -> dict[str, int]:
                return {}
