"""``NamedTuple`` and ``Protocol`` without importing typing (about 2 ms, a tenth of a no-op run).

Type checkers see typing's own; at run time a record class becomes the ``collections.namedtuple``
that ``typing.NamedTuple`` would make of it (fields from its annotations, defaults from its class
body, its methods and docstring kept), and a protocol is a plain base class (nothing here checks
one with ``isinstance``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
    from typing import Protocol as Protocol
else:
    import collections

    # What typing.NamedTuple refuses in a class body: namedtuple defines them itself.
    _PROHIBITED = frozenset(
        {"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults", "_make", "_replace",
         "_asdict", "_source"}
    )  # fmt: skip
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})

    class _RecordMeta(type):
        def __new__(mcls, name, bases, namespace):
            fields = list(namespace.get("__annotations__", {}))
            defaults = []
            for field in fields:
                if field in namespace:
                    defaults.append(namespace[field])
                elif defaults:
                    raise TypeError(f"non-default field {field!r} follows a field with a default in {name}")
            record = collections.namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])
            record.__annotations__ = dict(namespace.get("__annotations__", {}))
            for key, value in namespace.items():
                if key in _PROHIBITED:
                    raise AttributeError(f"cannot overwrite NamedTuple attribute {key}")
                if key not in _SPECIAL and key not in fields:
                    setattr(record, key, value)
            return record

    _Record = type.__new__(_RecordMeta, "NamedTuple", (), {})

    def NamedTuple(*args, **kwargs):
        raise TypeError("rotator.records.NamedTuple is only a base class")

    NamedTuple.__mro_entries__ = lambda bases: (_Record,)

    class Protocol:
        __slots__ = ()
