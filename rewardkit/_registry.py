"""Reward specs, the decorators that make them, and the registry that names them.

A decorated function stays the plain function (callable in a unit test with
plain values); its spec hangs on it as `__rewardkit__`. Rewards receive
their inputs by parameter name, the way pytest hands out fixtures.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass, field
from types import ModuleType
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Iterable,
    Iterator,
    Literal,
    Mapping,
    Sequence,
    TypedDict,
    TypeVar,
    Union,
    overload,
)

from ._errors import RegistrationError, UnknownRewardError
from ._options import validate as validate_options
from ._sample import DEFAULT_REFERENCE_KEYS
from .parsers import Parser, resolve

if TYPE_CHECKING:
    from typing_extensions import Unpack

SPEC_ATTRIBUTE = "__rewardkit__"
# The metric the engine adds to every parse-then-score reward's Score: 1.0 parsed, 0.0 not (_engine/invoke.py).
PARSED_OK = "parsed_ok"
# A reward with a platform-native twin (a rewards.judge judge_reward: Vertex's autoraterScorer) hangs on its function,
# under this name, a function from the platform's model path to that native reward config (`rewardkit config` reads it).
NATIVE_TWIN = "__rewardkit_native_twin__"

# What a reward may ask for, by kind. Documented in the README ("Inputs").
SINGLE_INPUTS = frozenset(
    {"response", "thinking", "prompt", "messages", "system", "references", "ground_truth",
     "reference", "metadata", "trajectory", "sample", "raw", "media", "images"}
)
PARSED_INPUTS = SINGLE_INPUTS | {"parsed"}
GROUPED_INPUTS = frozenset(
    {"responses", "thinkings", "samples", "prompt", "messages", "system", "references",
     "ground_truth", "reference", "metadata", "media", "images"}
)
# Inputs that carry the gold answer; declared without a default, they make the gold required.
GOLD_INPUTS = ("reference", "ground_truth")
_INPUTS = {"single": SINGLE_INPUTS, "parsed": PARSED_INPUTS, "grouped": GROUPED_INPUTS}

Kind = Literal["single", "parsed", "grouped"]
# The decorators hand back the function they were given: a user's editor and type checker keep its signature.
F = TypeVar("F", bound=Callable[..., Any])
Rule = Literal["weighted_mean", "weighted_sum"]


def _origin(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    where = f" ({code.co_filename}:{code.co_firstlineno})" if code else ""
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}{where}"


@dataclass(frozen=True)
class RewardSpec:
    """A registered reward: the function plus how to run it."""

    name: str
    kind: Kind
    fn: Callable[..., Any]
    inputs: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    parser: Parser | None = None
    on_parse_error: float = 0.0
    fallback: float | None = None
    timeout: float | None = None
    reference_keys: tuple[str, ...] = DEFAULT_REFERENCE_KEYS
    is_async: bool = False
    setup: Callable[[], Any] | None = None
    preload: tuple[str, ...] = ()
    check_options: Callable[..., Any] | None = None
    doc: str = ""
    # `reference` / `ground_truth` parameters without a default: the reward is not called without them.
    required_gold: tuple[str, ...] = ()
    # The (low, high) its scores lie in, bounds included; a score outside is the reward's INVALID_SCORE.
    score_range: tuple[float, float] | None = None
    # The names of the metrics its Scores may carry (`Score.metrics`), declared so that a trainer's per-item
    # dicts have the same keys on every item (metric_keys); a metric not declared is left out there.
    metrics: tuple[str, ...] = ()

    @property
    def grouped(self) -> bool:
        return self.kind == "grouped"

    @property
    def origin(self) -> str:
        return _origin(self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function with this spec's bound options (for variants in unit tests)."""
        return self.fn(*args, **{**self.options, **kwargs})


@dataclass(frozen=True)
class Component:
    spec: "AnySpec"
    weight: float


@dataclass(frozen=True)
class CompositeSpec:
    """A named, weighted combination of rewards."""

    name: str
    components: tuple[Component, ...]
    rule: Rule
    on_component_error: Literal["fail", "zero"] = "fail"
    weight: float = 1.0
    doc: str = ""

    kind = "composite"
    parser = None
    fallback = None

    @property
    def grouped(self) -> bool:
        return any(c.spec.grouped for c in self.components)

    @property
    def origin(self) -> str:
        return f"composite {self.name!r}"


AnySpec = Union[RewardSpec, CompositeSpec]


def _check_signature(fn: Callable[..., Any], kind: Kind, name: str) -> tuple[tuple[str, ...], set[str]]:
    """The inputs `fn` asks for, and the names of its options (parameters with defaults)."""
    allowed = _INPUTS[kind]
    inputs: list[str] = []
    options: set[str] = set()
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError) as exc:
        raise RegistrationError(f"reward {name!r} ({_origin(fn)}): cannot read its signature: {exc}") from None
    for p in parameters:
        if p.kind is p.VAR_KEYWORD:
            continue
        if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
            raise RegistrationError(
                f"reward {name!r} ({_origin(fn)}): parameter {p.name!r} cannot be passed by name; "
                "rewardkit passes inputs as keyword arguments"
            )
        if p.name in allowed:
            inputs.append(p.name)
        elif p.default is not p.empty:
            options.add(p.name)
        else:
            raise RegistrationError(
                f"reward {name!r} ({_origin(fn)}): parameter {p.name!r} is not an input rewardkit can pass "
                f"to a {kind} reward. Use one of {', '.join(sorted(allowed))}, "
                "or give it a default to make it an option."
            )
    if kind == "parsed" and "parsed" not in inputs:
        raise RegistrationError(
            f"reward {name!r} ({_origin(fn)}): a parse-then-score reward must take a 'parsed' parameter")
    if kind == "grouped" and not {"responses", "samples", "thinkings"} & set(inputs):
        raise RegistrationError(
            f"reward {name!r} ({_origin(fn)}): a grouped reward must take 'responses', 'thinkings' or 'samples'"
        )
    if not inputs:
        raise RegistrationError(
            f"reward {name!r} ({_origin(fn)}): takes none of the inputs rewardkit passes ({', '.join(sorted(allowed))})"
        )
    return tuple(inputs), options


def _required_gold(fn: Callable[..., Any]) -> tuple[str, ...]:
    parameters = inspect.signature(fn).parameters.values()
    return tuple(p.name for p in parameters if p.name in GOLD_INPUTS and p.default is p.empty)


def _check_number(value: Any, what: str, name: str, *, positive: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RegistrationError(f"reward {name!r}: {what} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise RegistrationError(f"reward {name!r}: {what} must be > 0, got {value!r}")


def _check_range(value: Any, name: str) -> tuple[float, float] | None:
    """A declared score_range as (low, high) floats; RegistrationError says what is wrong with it."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise RegistrationError(f"reward {name!r}: score_range must be (low, high), got {value!r}")
    for bound in value:
        _check_number(bound, "each bound of score_range", name)
    low, high = float(value[0]), float(value[1])
    if not low < high:
        raise RegistrationError(f"reward {name!r}: score_range must be (low, high) with low < high, got {value!r}")
    return low, high


def _check_in_range(value: float | None, what: str, name: str, score_range: tuple[float, float] | None) -> None:
    """A fixed score the reward answers (fallback, on_parse_error) must lie in its own score_range."""
    if value is not None and score_range is not None and not score_range[0] <= value <= score_range[1]:
        raise RegistrationError(f"reward {name!r}: {what} {value!r} is outside its score_range "
                                f"[{score_range[0]:g}, {score_range[1]:g}]")


def _metric_names(metrics: Any, name: str) -> tuple[str, ...]:
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics or ())
    if not all(isinstance(m, str) and m.strip() for m in names) or len(set(names)) != len(names):
        raise RegistrationError(f"reward {name!r}: metrics must list distinct, non-empty metric names, got {metrics!r}")
    return names


def _make_spec(fn: Callable[..., Any], kind: Kind, name: str | None, **settings: Any) -> RewardSpec:
    if not callable(fn):
        raise RegistrationError(f"@{kind} reward: expected a function, got {fn!r}")
    name = name or fn.__name__
    inputs, _options = _check_signature(fn, kind, name)
    _check_number(settings.get("weight"), "weight", name, positive=True)
    _check_number(settings.get("fallback"), "fallback", name)
    _check_number(settings.get("timeout"), "timeout", name, positive=True)
    _check_number(settings.get("on_parse_error"), "on_parse_error", name)
    settings["score_range"] = _check_range(settings.get("score_range"), name)
    _check_in_range(settings.get("fallback"), "fallback", name, settings["score_range"])
    _check_in_range(settings.get("on_parse_error"), "on_parse_error", name, settings["score_range"])
    setup = settings.get("setup")
    if setup is not None and not callable(setup):
        raise RegistrationError(f"reward {name!r}: setup must be a function taking no arguments, got {setup!r}")
    preload = settings.get("preload", ())
    if not all(isinstance(m, str) and m for m in preload):
        raise RegistrationError(f"reward {name!r}: preload must list module names (strings), got {preload!r}")
    settings["metrics"] = _metric_names(settings.get("metrics", ()), name)
    if settings.get("reference_keys") is None:
        settings["reference_keys"] = DEFAULT_REFERENCE_KEYS
    else:
        settings["reference_keys"] = tuple(settings["reference_keys"])
    return RewardSpec(
        name=name,
        kind=kind,
        fn=fn,
        inputs=inputs,
        is_async=inspect.iscoroutinefunction(fn),
        doc=inspect.cleandoc(fn.__doc__ or ""),
        required_gold=_required_gold(fn),
        **settings,
    )


class RewardOptions(TypedDict, total=False):
    """What `@reward`, `@grouped_reward` and `@parsed_reward` take besides the function (and the parser):
    declared once here, so the three decorators share one typed signature (PEP 692 `Unpack`)."""

    name: str | None
    weight: float
    fallback: float | None
    score_range: tuple[float, float] | None
    timeout: float | None
    reference_keys: Sequence[str] | None
    setup: Callable[[], Any] | None
    preload: Sequence[str]
    check_options: Callable[..., Any] | None
    metrics: Sequence[str]


# Checked at run time too: `**options` takes any keyword where the spelled-out signature raised TypeError.
_DECORATOR_OPTIONS = frozenset(RewardOptions.__annotations__)


def _decorator(kind: Kind, fn: F | None, options: Mapping[str, Any], **extra: Any) -> Any:
    unknown = sorted(set(options) - _DECORATOR_OPTIONS)
    if unknown:
        decorator = {"single": "reward", "grouped": "grouped_reward", "parsed": "parsed_reward"}[kind]
        raise TypeError(f"@{decorator} got unexpected option(s) {', '.join(unknown)}; "
                        f"it takes {', '.join(sorted(_DECORATOR_OPTIONS))}")
    settings = {key: value for key, value in options.items() if key != "name"}
    settings["preload"] = tuple(settings.get("preload", ()))

    def register(f: F) -> F:
        setattr(f, SPEC_ATTRIBUTE, _make_spec(f, kind, options.get("name"), **settings, **extra))
        return f

    return register(fn) if fn is not None else register


@overload
def reward(fn: F, **options: Unpack[RewardOptions]) -> F: ...
@overload
def reward(fn: None = None, **options: Unpack[RewardOptions]) -> Callable[[F], F]: ...
def reward(fn: Callable[..., Any] | None = None, **options: Unpack[RewardOptions]) -> Any:
    """Register a single reward: one response -> one score.

    Use as `@reward` or `@reward(name=..., fallback=0.0, ...)`. `fallback` is
    the score returned (with the error reported) when the reward fails;
    without it a failure is reported as an error. `score_range=(low, high)`
    declares the scores the reward gives (bounds included): a score outside
    is never sent, it is the reward's failure, INVALID_SCORE, in every
    contract (default None: no range; a score outside the range a contract
    expects is sent as it is, logged and counted). `timeout` (seconds)
    overrides the service's. `setup` is a no-argument function run once per
    worker process at startup (load a model, compile patterns). `preload`
    names modules the reward needs (e.g. "math_verify"): they are imported
    once in the process workers fork from, so every worker, replacements
    included, starts with them loaded. The reward's own options are its
    keyword parameters with defaults, typed (`Literal[...]`,
    `Annotated[int, Field(ge=0)]`): `variant()` checks values against those
    types. `check_options` is for rules that span options (limit > target):
    it receives every option (defaults filled in) after the types are
    checked and raises ValueError for values the reward cannot use together,
    so a bad variant fails at import. `metrics` names the metrics its Scores
    may carry: a trainer needs the same keys on every item, so the trainer
    adapters report the declared ones (NaN where an item has none) and leave
    out, with a warning, a metric not declared.
    """
    return _decorator("single", fn, options)


@overload
def grouped_reward(fn: F, **options: Unpack[RewardOptions]) -> F: ...
@overload
def grouped_reward(fn: None = None, **options: Unpack[RewardOptions]) -> Callable[[F], F]: ...
def grouped_reward(fn: Callable[..., Any] | None = None, **options: Unpack[RewardOptions]) -> Any:
    """Register a grouped reward: the N responses sampled for one prompt -> N scores.

    Options as `reward`'s; with `score_range`, each score outside it fails that response (INVALID_SCORE)."""
    return _decorator("grouped", fn, options)


def parsed_reward(
    parser: "str | Parser | Callable[[str], Any]", *, on_parse_error: float = 0.0, **options: Unpack[RewardOptions]
) -> Callable[[F], F]:
    """Register a parse-then-score reward.

    `parser` runs on the response first; the function receives its result as
    `parsed`. When the parser finds nothing, the score is `on_parse_error`
    with the parser's reason, and the function is not called. Other options
    as `reward`'s (`on_parse_error` and `fallback` must lie in `score_range`).
    """

    def register(f: F) -> F:
        label = options.get("name") or getattr(f, "__name__", "?")
        try:
            resolved = resolve(parser)
        except RegistrationError as exc:
            raise RegistrationError(f"reward {label!r} ({_origin(f)}): {exc}") from None
        registered: F = _decorator("parsed", f, options, parser=resolved, on_parse_error=on_parse_error)
        return registered

    if not isinstance(parser, Parser) and _looks_like_reward(parser):
        shown = getattr(parser, "__name__", parser)
        raise RegistrationError(f"@parsed_reward needs a parser first: write @parsed_reward('boxed') above {shown}")
    return register


def _looks_like_reward(fn: Any) -> bool:
    """True for `@parsed_reward` written without a parser (the reward itself was passed)."""
    if not callable(fn):
        return False
    try:
        return "parsed" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def spec_of(obj: Any) -> AnySpec:
    """The spec of a decorated function, a variant or a composite."""
    if isinstance(obj, (RewardSpec, CompositeSpec)):
        return obj
    spec = getattr(obj, SPEC_ATTRIBUTE, None)
    if not isinstance(spec, (RewardSpec, CompositeSpec)):
        raise RegistrationError(f"{obj!r} is not a reward: decorate it with @reward, @grouped_reward or @parsed_reward")
    return spec


def variant(base: Any, name: str, *, weight: float | None = None, fallback: float | None = None,
            timeout: float | None = None, reference_keys: str | Sequence[str] | None = None,
            **options: Any) -> RewardSpec:
    """A configured copy of a reward, registered under a new name.

    `options` set the reward function's own keyword parameters (those with
    defaults), e.g. `variant(exact_match, "exact_ci", ignore_case=True)`.
    `reference_keys` says where the gold answer is when the request has no
    DashScope `ground_truth`: the first of these keys present in Vertex
    `references` / DashScope `rollout_extra`.
    Unknown options, values their declared types refuse (a `Literal`'s
    choices, an `Annotated` bound, the type itself) and values the reward's
    `check_options` rejects raise RegistrationError naming the variant, the
    option, what was expected and what was given.
    """
    spec = spec_of(base)
    if not isinstance(spec, RewardSpec):
        raise RegistrationError(f"variant {name!r}: {spec.name!r} is a composite; make a new composite instead")
    _inputs, known = _check_signature(spec.fn, spec.kind, spec.name)
    unknown = sorted(set(options) - known)
    if unknown:
        raise RegistrationError(
            f"variant {name!r} of {spec.name!r}: unknown option(s) {', '.join(unknown)}; "
            f"options of {spec.name!r}: {', '.join(sorted(known)) or '(none)'}"
        )
    changes: dict[str, Any] = {"name": name, "options": {**spec.options, **options}}
    validate_options(spec, changes["options"], f"variant {name!r} of {spec.name!r}")
    if reference_keys is not None:
        keys = (reference_keys,) if isinstance(reference_keys, str) else tuple(reference_keys)
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise RegistrationError(f"variant {name!r}: reference_keys must be one or more non-empty key names, "
                                    f"got {reference_keys!r}")
        changes["reference_keys"] = keys
    for key, value in (("weight", weight), ("fallback", fallback), ("timeout", timeout)):
        if value is not None:
            _check_number(value, key, name, positive=key != "fallback")
            changes[key] = value
    _check_in_range(fallback, "fallback", name, spec.score_range)
    return dataclasses.replace(spec, **changes)


def composite(
    name: str,
    components: Mapping[Any, float] | Sequence[Any],
    *,
    rule: Rule,
    on_component_error: Literal["fail", "zero"] = "fail",
    weight: float = 1.0,
    doc: str = "",
) -> CompositeSpec:
    """A weighted combination of rewards.

    `components` maps rewards to weights, or lists rewards (each then uses
    its own `weight`). `rule` is explicit: "weighted_mean" (Vertex composite
    semantics: sum(w*r)/sum(w)) or "weighted_sum" (DashScope SDK semantics:
    sum(w*r)). With on_component_error="zero" a failing component counts 0
    and is reported, as in the DashScope SDK; with "fail" (default) the
    composite fails.
    """
    if rule not in ("weighted_mean", "weighted_sum"):
        raise RegistrationError(f"composite {name!r}: rule must be 'weighted_mean' or 'weighted_sum', got {rule!r}")
    if on_component_error not in ("fail", "zero"):
        raise RegistrationError(f"composite {name!r}: on_component_error must be 'fail' or 'zero'")
    pairs = components.items() if isinstance(components, Mapping) else [(c, None) for c in components]
    built = []
    for obj, w in pairs:
        spec = spec_of(obj)
        w = spec.weight if w is None else w
        _check_number(w, f"weight of component {spec.name!r}", name, positive=True)
        built.append(Component(spec, float(w)))
    if not built:
        raise RegistrationError(f"composite {name!r}: needs at least one component")
    names = [c.spec.name for c in built]
    if len(set(names)) != len(names):
        raise RegistrationError(f"composite {name!r}: a component is listed twice ({', '.join(names)})")
    return CompositeSpec(name, tuple(built), rule, on_component_error, weight, inspect.cleandoc(doc))


def metric_keys(spec: AnySpec) -> tuple[str, ...]:
    """The flat metric keys (`_outcome.flat_metrics`'s names) an outcome of `spec` may carry, in a fixed order:
    `<reward>.<metric>` for each declared metric (`parsed_ok` first for a parsed reward); for a composite,
    `<component>.score` and the component's own keys, component by component."""
    if isinstance(spec, RewardSpec):
        names = ((PARSED_OK,) if spec.kind == "parsed" else ()) + spec.metrics
        return tuple(dict.fromkeys(f"{spec.name}.{metric}" for metric in names))
    keys: list[str] = []
    for component in spec.components:
        keys += [f"{component.spec.name}.score", *metric_keys(component.spec)]
    return tuple(dict.fromkeys(keys))


class Registry:
    """Rewards by name, in registration order."""

    def __init__(self, specs: Iterable[AnySpec], source: str = "") -> None:
        self._specs: dict[str, AnySpec] = {}
        self.source = source  # where the rewards came from, for messages ("the built-in rewards package")
        for spec in specs:
            self._add(spec)

    def _add(self, spec: AnySpec) -> None:
        existing = self._specs.get(spec.name)
        if existing is not None and existing is not spec:
            raise RegistrationError(
                f"reward name {spec.name!r} is registered twice: by {existing.origin} and by {spec.origin}; "
                "pass name=... to one of them"
            )
        self._specs[spec.name] = spec
        if isinstance(spec, CompositeSpec):
            for component in spec.components:
                self._add(component.spec)

    def get(self, name: str) -> AnySpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownRewardError(name, self.names(), self.source) from None

    def names(self) -> list[str]:
        return list(self._specs)

    def __iter__(self) -> Iterator[AnySpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs


def collect(module: ModuleType) -> Registry:
    """Every reward, variant and composite in a module's namespace, in definition order."""
    found: list[AnySpec] = []
    for value in vars(module).values():
        if isinstance(value, (RewardSpec, CompositeSpec)):
            found.append(value)
        elif callable(value) and isinstance(getattr(value, SPEC_ATTRIBUTE, None), RewardSpec):
            found.append(getattr(value, SPEC_ATTRIBUTE))
    return Registry(found)


def default_reward(registry: Registry, name: str | None) -> str | None:
    """The reward behind the contracts' default routes: the named one, else the only top-level one."""
    if name:
        if name not in registry:
            raise UnknownRewardError(name, registry.names(), registry.source)
        return name
    used = {c.spec.name for s in registry if isinstance(s, CompositeSpec) for c in s.components}
    roots = [s.name for s in registry if s.name not in used]
    return roots[0] if len(roots) == 1 else None


def attach(fn: F, spec: AnySpec) -> F:
    """Hang a spec built by hand on a plain function, as the decorators do: `collect` and `spec_of` find it there,
    and the function stays callable as it was. For reward factories that build their spec themselves."""
    setattr(fn, SPEC_ATTRIBUTE, spec)
    return fn
