"""``NamedTuple`` and ``Protocol`` without importing typing (about 2 ms, a tenth of a no-op run).

Type checkers see typing's own; at run time a record class is what ``typing.NamedTuple`` would make
of it (a tuple with named fields from its annotations, defaults from its class body, its methods and
docstring kept, ``_replace``, ``_asdict``, ``_make``), built for a fraction of ``collections.namedtuple``'s
cost; a protocol is a plain base class (nothing here checks one with ``isinstance``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
    from typing import Protocol as Protocol
else:
    import sys as _sys
    from _collections import _tuplegetter

    # What typing.NamedTuple refuses in a class body: a record defines them itself.
    _PROHIBITED = frozenset(
        {"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults", "_make", "_replace",
         "_asdict", "_source"}
    )  # fmt: skip
    _SPECIAL = frozenset({"__module__", "__name__", "__qualname__", "__annotations__"})
    _NEW_BY_ARITY = {}  # one compiled __new__ per number of fields, renamed per record

    def _new_for(fields):
        # collections.namedtuple compiles a __new__ for every class (half of its cost, some 40 us a
        # record, 39 records on a no-op); the code differs only in its argument names, so one code
        # object per arity is compiled and given each record's names.
        template = _NEW_BY_ARITY.get(len(fields))
        if template is None:
            names = ", ".join(f"_{i}" for i in range(len(fields)))
            scope = {"_tuple_new": tuple.__new__}
            # A fixed template, no outside input; the trailing comma makes one field a tuple too.
            values = f"({names},)" if names else "()"
            exec(f"def __new__(_cls, {names}): return _tuple_new(_cls, {values})", scope)  # noqa: S102
            template = _NEW_BY_ARITY[len(fields)] = scope["__new__"]
        code = template.__code__.replace(co_varnames=("_cls", *fields))
        return type(template)(code, template.__globals__, "__new__")

    class _RecordBase(tuple):
        """What every record shares; collections.namedtuple makes these afresh for each class."""

        __slots__ = ()

        @classmethod
        def _make(cls, iterable):
            result = tuple.__new__(cls, iterable)
            if len(result) != len(cls._fields):
                raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(result)}")
            return result

        def _replace(self, /, **kwds):
            result = self._make(map(kwds.pop, self._fields, self))
            if kwds:  # as collections.namedtuple says it: a TypeError from Python 3.13, a ValueError before
                error = TypeError if _sys.version_info >= (3, 13) else ValueError
                raise error(f"Got unexpected field names: {list(kwds)!r}")
            return result

        def __repr__(self):
            return f"{type(self).__name__}({', '.join(f'{n}={v!r}' for n, v in zip(self._fields, self, strict=True))})"

        def _asdict(self):
            return dict(zip(self._fields, self, strict=True))

        def __getnewargs__(self):
            return tuple(self)

    class _RecordMeta(type):
        def __new__(mcls, name, bases, namespace):
            annotations = namespace.get("__annotations__", {})
            fields = tuple(annotations)
            defaults = []
            for field in fields:
                if field in namespace:
                    defaults.append(namespace[field])
                elif defaults:
                    raise TypeError(f"non-default field {field!r} follows a field with a default in {name}")
            new = _new_for(fields)
            new.__defaults__ = tuple(defaults) or None
            new.__qualname__ = f"{namespace.get('__qualname__', name)}.__new__"
            body = {
                "__doc__": namespace.get("__doc__") or f"{name}({', '.join(fields)})",
                "__slots__": (),
                "_fields": fields,
                "_field_defaults": dict(zip(fields[len(fields) - len(defaults) :], defaults, strict=True)),
                "__new__": new,
                "__match_args__": fields,
                "__module__": namespace["__module__"],
                "__qualname__": namespace.get("__qualname__", name),
                "__annotations__": dict(annotations),
            }
            for index, field in enumerate(fields):
                body[field] = _tuplegetter(index, f"Alias for field number {index}")
            for key, value in namespace.items():
                if key in _PROHIBITED:
                    raise AttributeError(f"cannot overwrite NamedTuple attribute {key}")
                if key not in _SPECIAL and key not in fields and key != "__doc__":
                    body[key] = value
            return type.__new__(type, name, (_RecordBase,), body)

    _Record = type.__new__(_RecordMeta, "NamedTuple", (), {})

    def NamedTuple(*args, **kwargs):
        raise TypeError("rotator.records.NamedTuple is only a base class")

    NamedTuple.__mro_entries__ = lambda bases: (_Record,)

    class Protocol:
        __slots__ = ()
