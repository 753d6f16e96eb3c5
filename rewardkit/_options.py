"""A reward's options, declared once: the keyword parameters with defaults in its own signature.

    def length_penalty(response: str, unit: Literal["tokens", "chars"] = "tokens",
                       target: Annotated[float, Ge(0)] = 512) -> Score:

The type (with `Literal` choices and `Annotated` bounds: annotated_types' `Ge`, `Gt`, `Le`, `Lt`,
`Interval`, `MinLen`, or pydantic's `Field(ge=...)`), the default, and the description (the docstring's
`Parameters:` section) are read from there by everything that shows or checks options: `variant()`
validates through a pydantic model of them, `GET /rewards` and `rewardkit options` describe them,
docs/builtin-rewards.md's tables are generated from them. A rule that spans options (limit > target) is
the reward's `check_options=` function, run after the types are checked.

The pydantic model is built at a reward's first `variant()`, not when it is decorated: building a model per
reward (about 3 ms each, more on a loaded machine) would add to every `import rewards` what only `variant()`
needs. A reward's defaults are validated with every variant (`validate_default`), and a test validates the
built-ins' defaults.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping, Union

from ._errors import RegistrationError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._registry import RewardSpec

__all__ = ["OptionInfo", "declared", "describe", "markdown", "validate"]

# "    name: text" opens an entry of a docstring's Parameters section; deeper-indented lines continue it.
_ENTRY = re.compile(r"^(\s*)(\w+)\s*:\s*(.*)$")
_SECTION = re.compile(r"^\s*(Parameters|Args|Arguments|Options)\s*:\s*$")
# annotated_types constraint attribute -> how the listing shows it
_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "min_length": "length >=", "max_length": "length <="}


@dataclass(frozen=True)
class OptionInfo:
    """One option as users see it: `GET /rewards`, `rewardkit options`, the docs tables."""

    name: str
    type: str
    default: Any  # as declared
    value: Any  # what this reward runs with: the default, or its variant's value
    allowed: tuple[Any, ...] | None  # a Literal's values
    bounds: str  # ">= 0, <= 1"; "" when unbounded
    description: str

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "default": shown(self.default),
                "allowed": list(self.allowed) if self.allowed is not None else None,
                "bounds": self.bounds or None, "description": self.description}


def shown(value: Any) -> Any:
    """A value as JSON shows it, or its repr when JSON cannot."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (bool, int, float, str)) for v in value):
        return list(value)
    return repr(value)


def parameter_docs(doc: str) -> dict[str, str]:
    """The `Parameters:` (or `Args:`) section of a docstring: name -> its text, continuation lines joined."""
    found: dict[str, str] = {}
    inside, indent, current = False, -1, ""
    for line in doc.splitlines():
        if _SECTION.match(line):
            inside, indent, current = True, -1, ""
            continue
        if not inside:
            continue
        if not line.strip():
            current = ""
            continue
        entry = _ENTRY.match(line)
        depth = len(line) - len(line.lstrip())
        if entry and (indent < 0 or depth == indent):
            indent, current = depth, entry.group(2)
            found[current] = entry.group(3).strip()
        elif current and depth > indent:
            found[current] = f"{found[current]} {line.strip()}".strip()
        else:
            inside = False  # text back at the section's level ends it
    return found


def declared(fn: Callable[..., Any], inputs: tuple[str, ...]) -> dict[str, inspect.Parameter]:
    """A reward's options: its parameters with a default that are not inputs (an input may have a default
    too, for plain calls in tests; it is still not an option)."""
    return {n: p for n, p in inspect.signature(fn).parameters.items()
            if p.default is not p.empty and n not in inputs and p.kind is not p.VAR_KEYWORD}


def _hints(fn: Callable[..., Any], label: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # a name the annotation uses is not importable where the reward is defined
        raise RegistrationError(f"reward {label}: cannot read the types of its options: {exc}") from None


@functools.lru_cache(maxsize=None)
def _model(fn: Callable[..., Any], inputs: tuple[str, ...]) -> type[BaseModel]:
    """The pydantic model of a reward's options (one per reward function; variants share it)."""
    from pydantic import ConfigDict, Field, create_model

    label = repr(getattr(fn, "__qualname__", fn))
    hints = _hints(fn, label)
    # Fields under aliases: an option may be called `schema` or `copy`, which BaseModel's own attributes shadow.
    fields: dict[str, Any] = {f"option_{name}": (hints.get(name, Any), Field(default=p.default, alias=name))
                              for name, p in declared(fn, inputs).items()}
    # strict: "5" is not 5 and True is not 1 (an option is Python, not text to coerce); an int is still a float.
    config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, arbitrary_types_allowed=True,
                        validate_default=True)
    try:
        return create_model(f"{getattr(fn, '__name__', 'reward')}_options", __config__=config, **fields)
    except Exception as exc:  # pydantic cannot build a validator for a type
        raise RegistrationError(f"reward {label}: pydantic cannot check the types of its options: {exc}") from None


def _problems(error: Any) -> list[str]:
    """pydantic's errors as 'option 'unit': expected 'tokens' or 'chars', got 'words''."""
    out = []
    for item in error.errors(include_url=False):
        where = ".".join(str(step) for step in item["loc"])
        # a value given is reported under its alias (NAME), a default under the field's own name (option_NAME)
        whose = "the default of option" if where.startswith("option_") else "option"
        where = where.removeprefix("option_")
        message = item["msg"]
        message = "expected " + message[len("Input should be "):] if message.startswith("Input should be ") else message
        message = message.removeprefix("Value error, ")
        given = "" if item["type"] == "missing" else f", got {item['input']!r}"
        out.append(f"{whose} {where!r}: {message}{given}")
    return out


def validate(spec: RewardSpec, options: Mapping[str, Any], label: str) -> None:
    """RegistrationError naming `label` and each option whose value its declared type refuses, then the
    reward's `check_options` (cross-option rules) over every option, defaults filled in."""
    from pydantic import ValidationError

    model = _model(spec.fn, spec.inputs)
    try:
        model(**options)
    except ValidationError as exc:
        raise RegistrationError(f"{label}: " + "; ".join(_problems(exc))) from None
    if spec.check_options is not None:
        values = {n: p.default for n, p in declared(spec.fn, spec.inputs).items()}
        try:
            spec.check_options(**{**values, **options})
        except (ValueError, TypeError) as exc:
            raise RegistrationError(f"{label}: {exc}") from None


def _constraints(annotation: Any) -> list[str]:
    """The bounds an annotation's metadata declares (annotated_types objects, pydantic FieldInfo, Interval)."""
    found: list[str] = []
    if typing.get_origin(annotation) is typing.Annotated:
        for meta in annotation.__metadata__:
            for item in [*getattr(meta, "metadata", ()), meta]:  # FieldInfo carries its constraints as metadata
                for attr, sign in _BOUNDS.items():
                    value = getattr(item, attr, None)
                    if value is not None and not callable(value) and f"{sign} {value}" not in found:
                        found.append(f"{sign} {value}")
        return found + _constraints(typing.get_args(annotation)[0])
    for arg in typing.get_args(annotation) if _is_union(annotation) else ():
        found += _constraints(arg)
    return found


def _is_union(annotation: Any) -> bool:
    import types

    return typing.get_origin(annotation) in (Union, types.UnionType)


def _bare(annotation: Any) -> Any:
    return _bare(typing.get_args(annotation)[0]) if typing.get_origin(annotation) is typing.Annotated else annotation


def _literal(annotation: Any) -> tuple[Any, ...] | None:
    """A Literal's values (an Optional Literal's too, None among them)."""
    annotation = _bare(annotation)
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    if _is_union(annotation):
        parts = [_literal(a) if a is not type(None) else (None,) for a in typing.get_args(annotation)]
        if all(p is not None for p in parts):
            return tuple(v for p in parts for v in p or ())
    return None


def type_name(annotation: Any) -> str:
    """How an option's type reads in a listing: `float`, `int | None`, `str` (a Literal of strings)."""
    annotation = _bare(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return "any"
    if annotation is type(None):
        return "None"
    if typing.get_origin(annotation) is Literal:
        return " | ".join(dict.fromkeys(type(v).__name__ if v is not None else "None"
                                        for v in typing.get_args(annotation)))
    if _is_union(annotation):
        return " | ".join(dict.fromkeys(type_name(a) for a in typing.get_args(annotation)))
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is not None and args:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{getattr(origin, '__name__', type_name(origin))}[{inner}]"
    return getattr(annotation, "__name__", None) or re.sub(r"\b(typing|collections\.abc)\.", "", repr(annotation))


def describe(spec: RewardSpec) -> list[OptionInfo]:
    """Each option of a reward as declared: type, default, allowed values, bounds, the docstring's description,
    and the value this reward (a variant, say) runs with."""
    hints = _hints(spec.fn, repr(spec.name))
    docs = parameter_docs(spec.doc)
    out = []
    for name, p in declared(spec.fn, spec.inputs).items():
        annotation = hints.get(name, Any)
        out.append(OptionInfo(name=name, type=type_name(annotation), default=p.default,
                              value=spec.options.get(name, p.default),
                              allowed=_literal(annotation), bounds=", ".join(_constraints(annotation)),
                              description=docs.get(name, "")))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(specs: Iterable[Any]) -> str:
    """One table of options per reward that has options, as docs/builtin-rewards.md holds them
    (`rewardkit options --markdown` prints it; tests/test_builtin_rewards.py checks the page against it)."""
    from ._registry import RewardSpec

    blocks, seen = [], set()
    for spec in specs:
        # A variant has its base's options (the first of a function's specs is listed, variants after it are not).
        if not isinstance(spec, RewardSpec) or spec.fn in seen:
            continue
        seen.add(spec.fn)
        options = describe(spec)
        if not options:
            continue
        rows = ["| option | type | default | allowed | description |", "|---|---|---|---|---|"]
        for o in options:
            allowed = " ".join(f"`{v!r}`" for v in o.allowed) if o.allowed is not None else o.bounds
            cells = [f"`{o.name}`", f"`{_cell(o.type)}`", f"`{o.default!r}`", _cell(allowed), _cell(o.description)]
            rows.append("| " + " | ".join(cells) + " |")
        blocks.append(f"#### `{spec.name}`\n\n" + "\n".join(rows))
    return "\n\n".join(blocks) + "\n"
