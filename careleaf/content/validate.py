"""Turn loaded YAML into the typed model, and describe the model as JSON Schema.

The model in ``model.py`` is the one declaration of the content schema. This
module reads it (dataclass fields, their types and their ``doc``) and derives
both the validator and the JSON Schema that editors' tools use for completion,
so the two can never disagree.

The kinds of text value a field may hold are a table in ``fields.py``: each
parses the text an editor wrote and says, in plain words, what was expected
when it cannot.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from careleaf.content.fields import SCALARS, Id, Invalid, Scalar, closest, shortened
from careleaf.content.load import MAX_FILE_BYTES, Document, KeyPath, LoadError, Origin, load
from careleaf.errors import Problem

ORIGIN = "_origin"


def origin(value: Any) -> Origin:
    """Where a model object was written (file, line, column of it and its parts)."""
    return vars(value)[ORIGIN]


# --- validation ---------------------------------------------------------------------

class Reader:
    """Converts one document into model objects, collecting every problem on the way."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.problems: list[Problem] = []
        self.top_level: set[str] = set()     # the file's own keys, once its top level is read

    def read(self, cls: type) -> Any:
        return self._value(cls, self.doc.data, ())

    def fail(self, where: KeyPath, message: str, *, at_key: bool = False) -> None:
        self.problems.append(self.doc.problem(where, message, at_key=at_key))

    def _value(self, kind: Any, value: Any, where: KeyPath) -> Any:
        kind, optional = _unwrap_optional(kind)
        if value is None:
            if not optional:
                self.fail(where, f"{_name(where)} is empty; fill it in")
            return None
        origin = get_origin(kind)
        if kind in SCALARS:
            return self._scalar(SCALARS[kind], value, where)
        if dataclasses.is_dataclass(kind):
            return self._record(kind, value, where)
        if origin is list:
            return self._list(get_args(kind)[0], value, where)
        if origin is dict:
            return self._dict(*get_args(kind), value, where)
        if origin is Literal:
            return self._choice(get_args(kind), value, where)
        raise TypeError(f"the model uses a type the schema does not know: {kind}")

    def _scalar(self, scalar: Scalar, value: Any, where: KeyPath) -> Any:
        if not isinstance(value, str):
            hint = ""
            if isinstance(value, dict) and len(value) == 1:  # 'Note: call us' reads as key 'Note'
                hint = ". If it is text with ': ' in it, put the whole text in double quotes"
            self.fail(where, f"{_name(where)} should be a single value, not {_shape(value)}{hint}")
            return None
        try:
            return scalar.parse(value)
        except Invalid as error:
            self.fail(where, f"{_name(where)}: {error}")
            return None

    def _choice(self, options: tuple[str, ...], value: Any, where: KeyPath) -> str | None:
        if isinstance(value, str) and value in options:
            return value
        shown = ", ".join(f"'{o}'" for o in options)
        guess = closest(value, options) if isinstance(value, str) else []
        hint = f"; did you mean '{guess[0]}'?" if guess else ""
        self.fail(where, f"{_name(where)} should be one of {shown}, not {_shape(value)}{hint}")
        return None

    def _list(self, item: Any, value: Any, where: KeyPath) -> list[Any]:
        if not isinstance(value, list):
            self.fail(where, f"{_name(where)} should be a list (lines starting with '- '), not {_shape(value)}")
            return []
        return [self._value(item, element, where + (i,)) for i, element in enumerate(value)]

    def _dict(self, key_kind: Any, item: Any, value: Any, where: KeyPath) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"{_name(where)} should be a set of 'name: …' entries, not {_shape(value)}")
            return {}
        result = {}
        for key, element in value.items():
            if not self._key(key_kind, key, where + (key,)):
                continue
            result[key] = self._value(item, element, where + (key,))
        return result

    def _key(self, key_kind: Any, key: Any, where: KeyPath) -> bool:
        """Whether a dict's key is one its type allows (a name, a language, one of a set of choices)."""
        if get_origin(key_kind) is Literal:
            options = get_args(key_kind)
            if str(key) in options:
                return True
            guess = closest(str(key), options)
            hint = f"; did you mean '{guess[0]}'?" if guess else ""
            self.fail(where, f"'{key}' should be one of {', '.join(repr(o) for o in options)}{hint}", at_key=True)
            return False
        try:
            SCALARS[key_kind].parse(str(key))
        except Invalid as error:
            if str(key) in self.top_level and len(where) > 1:   # indented by mistake under the group above it
                self.fail(where, f"'{key}' belongs at the top level of the file, not under '{where[-2]}': move it "
                                 "to the start of its line, with no spaces before it", at_key=True)
            else:
                self.fail(where, str(error), at_key=True)
            return False
        return True

    def _record(self, cls: type, value: Any, where: KeyPath) -> Any:
        if not isinstance(value, dict):
            self.fail(where, f"{_name(where)} should be a set of 'key: value' lines, not {_shape(value)}")
            return None
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        if not where:
            self.top_level = set(fields)     # for a message about one of them indented by mistake
        hints = typing.get_type_hints(cls)
        for key in value.keys() - fields.keys():
            self.fail(where + (key,), _unknown_key(key, fields, cls), at_key=True)
        arguments = {}
        for name, spec in fields.items():
            if name in value:
                arguments[name] = self._value(hints[name], value[name], where + (name,))
            elif spec.default is MISSING and spec.default_factory is MISSING:
                self.fail(where, f"'{name}' is missing here ({spec.metadata['doc']})")
        missing = [n for n, s in fields.items()
                   if n not in arguments and s.default is MISSING and s.default_factory is MISSING]
        if missing:
            return None
        made = cls(**arguments)
        object.__setattr__(made, ORIGIN, self.doc.origin(where))   # not a field: equality and repr ignore it
        return made





def _unknown_key(key: str, fields: dict[str, Any], cls: type) -> str:
    guess = closest(key, fields)
    if guess:
        return f"unknown key '{key}'; did you mean '{guess[0]}'?"
    return f"unknown key '{key}'; the keys allowed here are: {', '.join(fields)}"


def _unwrap_optional(kind: Any) -> tuple[Any, bool]:
    if get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in get_args(kind) if a is not type(None)]
        return args[0], True
    return kind, False


def _name(where: KeyPath) -> str:
    if not where:
        return "this file"
    last = where[-1]
    if isinstance(last, int):
        return f"item {last + 1} of '{where[-2]}'" if len(where) > 1 else f"item {last + 1}"
    return f"'{last}'"


def _shape(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a set of keys"
    return f"'{shortened(value)}'"





def read_file(path: Path, cls: Any, *, limit: int = MAX_FILE_BYTES) -> tuple[Any, Document | None, list[Problem]]:
    """Load and validate one file, for every caller (catalog, check, changes, template words).

    Returns the value (None when anything is wrong), the document (None when it
    could not be read as YAML) and every problem. ``cls`` is a model class, or a
    class with its own ``validate(doc)`` (template words, a flat list of names).
    """
    try:
        doc = load(path, limit=limit)
    except LoadError as error:
        return None, None, [error.problem]
    value, problems = cls.validate(doc) if hasattr(cls, "validate") else read(doc, cls)
    return (None if problems else value), doc, problems


def read(doc: Document, cls: type) -> tuple[Any, list[Problem]]:
    """Convert a whole document into ``cls``; returns the object and every problem found."""
    reader = Reader(doc)
    result = reader.read(cls)
    return result, reader.problems


# --- JSON Schema ------------------------------------------------------------------

def json_schema(cls: type, title: str) -> dict[str, Any]:
    """The JSON Schema of a model class, for editors' completion and checks."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, **_json(cls)}


def _json(kind: Any) -> dict[str, Any]:
    kind, _ = _unwrap_optional(kind)
    origin = get_origin(kind)
    if kind in SCALARS:
        return dict(SCALARS[kind].json)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        fields = [f for f in dataclasses.fields(kind) if f.init]
        return {
            "type": "object",
            "description": (kind.__doc__ or "").strip().splitlines()[0],
            "additionalProperties": False,
            "required": [f.name for f in fields if f.default is MISSING and f.default_factory is MISSING],
            "properties": {f.name: {**_json(hints[f.name]), "description": f.metadata.get("doc", "")}
                           for f in fields},
        }
    if origin is list:
        return {"type": "array", "items": _json(get_args(kind)[0])}
    if origin is dict:
        key_kind, item = get_args(kind)
        names = _json(key_kind) if get_origin(key_kind) is Literal else {"pattern": SCALARS[Id].json["pattern"]}
        return {"type": "object", "propertyNames": names, "additionalProperties": _json(item)}
    if origin is Literal:
        return {"enum": list(get_args(kind))}
    raise TypeError(f"the model uses a type the schema does not know: {kind}")
