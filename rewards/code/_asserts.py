"""Assertion scripts, split so that their expected values stay outside the sandbox.

Each `assert` becomes a probe: the parts of its condition that call into the
program (or use the script's own names) are evaluated inside the sandbox and
sent back as plain values; the rest -- literals and every pure expression
built from them (arithmetic, repetition and concatenation, unary signs,
tuples, lists, sets and dicts, conditional expressions, comparisons), and a
few pure builtins such as `abs`, `len`, `sorted`, `math.isclose` -- is
evaluated here, on those values. So

    assert abs(candidate(2.0) - 1.414) < 1e-3

sends `__rk_probe__(0, candidate(2.0))` into the sandbox and keeps
`abs(_ - 1.414) < 1e-3` out of it: the program never sees 1.414, and an
object whose `__eq__` or `__sub__` always agrees never leaves the sandbox
(only plain values do). A value the script computes itself (a reference
solution inside `check`) is evaluated inside and is only as trustworthy as
the sandbox process; write expected values as literals.

The parts without a program value are evaluated once, when the test is read
(`assert f("ab") == "x" * 3 + "y"` compares with "xxxy"): one that cannot be
evaluated (`"a" - 1`, `1 / 0`, `"a" * 10**12`) is the test's fault, an
AssertionScriptError, never a verdict on the program. Every value built here
is bounded (MAX_SIZE, MAX_INT_BITS), checked before the work that would
exceed it: a value the program sends back is just as bounded, and an
expression on it that would exceed the bound fails that test.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from rewardkit import RewardkitError

PROBE = "__rk_probe__"

_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: a is b or (type(a) is type(b) and a == b and not isinstance(a, (list, dict, set))),
    ast.IsNot: lambda a, b: not (a is b or (type(a) is type(b) and a == b and not isinstance(a, (list, dict, set)))),
}
_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow, ast.LShift: operator.lshift,
    ast.RShift: operator.rshift, ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.BitAnd: operator.and_,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert,
}
_DISPLAYS: dict[type, Callable[[list[Any]], Any]] = {ast.List: list, ast.Tuple: tuple, ast.Set: set}

# Bounds on every value built outside. A program's values come back over a channel of 1 MiB
# (SandboxLimits.output_bytes), and Python will not write an int of more than 4300 digits as text: an
# expected value beyond these could never be matched, and building one could exhaust the worker.
MAX_SIZE = 1 << 20  # characters, bytes or items, nested ones included (see _size)
MAX_INT_BITS = 1 << 16


class TooLarge(RewardkitError, ValueError):
    """A value over MAX_SIZE or MAX_INT_BITS, refused before it is built."""


def _sum(values: Any, start: Any = 0) -> Any:
    """sum(), linear for sequences too (the builtin copies the running total at each step: quadratic)."""
    items = list(values)
    if type(start) in (list, tuple) and all(type(item) is type(start) for item in items):
        _bounded(sum(_size(item) for item in items) + _size(start), "the sum")
        return type(start)(itertools.chain(start, *items))
    return sum(items, start)


def _round(number: Any, ndigits: Any = None) -> Any:
    if type(ndigits) is int and ndigits < 0 and -ndigits > MAX_INT_BITS // 3:
        raise TooLarge(f"round() to {ndigits} digits")  # round(5, -10**9) computes 10**(10**9)
    return round(number, ndigits)


# Pure functions the outside evaluator may apply (also as values: sorted(xs, key=len)).
_CALLS: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": _round, "len": len, "sorted": sorted, "set": set, "frozenset": frozenset, "list": list,
    "tuple": tuple, "min": min, "max": max, "sum": _sum, "all": all, "any": any, "str": str, "int": int,
    "float": float, "bool": bool, "math.isclose": math.isclose, "isclose": math.isclose,
}


class AssertionScriptError(RewardkitError, ValueError):
    """A test script that cannot be read, or whose expected value cannot be evaluated (a dataset problem)."""


@dataclass(frozen=True)
class Slot:
    """The n-th value the probe sends back."""

    index: int


@dataclass(frozen=True)
class Plan:
    """How to judge one assert outside, from the values its probe sends back."""

    expression: Any  # an ast.expr whose inside parts are replaced by Slot markers (see _Splitter)
    slots: int
    line: int
    text: str


@dataclass(frozen=True)
class SplitScript:
    source: str  # what runs inside: the script with each assert replaced by its probe
    plans: tuple[Plan, ...]
    static_failures: tuple[str, ...] = ()  # asserts with no program part that are false as written


def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _call_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def _pure_parts(node: ast.expr) -> list[ast.expr] | None:
    """The sub-expressions of a node the evaluator builds outside, or None when it cannot (it goes inside)."""
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        return [node.left, *node.comparators]
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return [node.operand]
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        return [node.left, node.right]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and not any(isinstance(e, ast.Starred) for e in node.elts):
        return list(node.elts)
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        pairs = zip(node.keys, node.values, strict=True)
        return [part for key, item in pairs if key is not None for part in (key, item)]
    if isinstance(node, ast.IfExp):
        return [node.test, node.body, node.orelse]
    if (isinstance(node, ast.Call) and _call_name(node.func) in _CALLS and all(k.arg is not None for k in node.keywords)
            and not any(isinstance(a, ast.Starred) for a in node.args)):
        return [*node.args, *(k.value for k in node.keywords)]
    return None


class _Splitter:
    """Turn one assert condition into an outside expression and the inside parts it needs."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.inside: list[ast.expr] = []

    def outside(self, node: ast.expr, argument: bool = False) -> Any:
        ok, value = _literal(node)
        if ok:
            return ("const", value)
        if argument and isinstance(node, ast.Name) and node.id in _CALLS:
            return ("function", node.id)  # sorted(xs, key=len); elsewhere a name is the script's own
        parts = _pure_parts(node)
        if parts is None:
            self.inside.append(node)
            return ("slot", Slot(len(self.inside) - 1))
        before = len(self.inside)
        expression = self._build(node, [self.outside(part, isinstance(node, ast.Call)) for part in parts])
        if len(self.inside) > before:
            return expression
        try:  # no program value in it: evaluated now, once; what cannot be is the test's fault
            return ("const", evaluate(expression, ()))
        except Exception as exc:
            text = ast.get_source_segment(self.source, node) or ast.unparse(node)
            raise AssertionScriptError(f"line {node.lineno}: `{_clip(text)}` cannot be evaluated: "
                                       f"{type(exc).__name__}: {_clip(str(exc))}") from None

    @staticmethod
    def _build(node: ast.expr, parts: list[Any]) -> Any:
        if isinstance(node, ast.Compare):
            return ("compare", parts[0], [type(op) for op in node.ops], parts[1:])
        if isinstance(node, ast.BoolOp):
            return ("bool", type(node.op), parts)
        if isinstance(node, ast.UnaryOp):
            return ("unary", type(node.op), parts[0])
        if isinstance(node, ast.BinOp):
            return ("binop", type(node.op), parts[0], parts[1])
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return ("display", type(node), parts)
        if isinstance(node, ast.Dict):
            return ("dict", parts[0::2], parts[1::2])
        if isinstance(node, ast.IfExp):
            return ("if", *parts)
        assert isinstance(node, ast.Call)
        count = len(node.args)
        return ("call", _call_name(node.func), parts[:count],
                {k.arg: part for k, part in zip(node.keywords, parts[count:], strict=True)})


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _size(value: Any, limit: int = MAX_SIZE) -> int:
    """How big `value` is: a unit per character, byte, item (nested ones too, a shared one each time it
    appears) and 64 bits of an int; counted only up to just past `limit`, so never slower than that."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bytes:
            total += len(item) + 1
        elif kind is int:
            total += item.bit_length() // 64 + 1
        elif kind is dict:
            total += 1
            stack += item.keys()
            stack += item.values()
        elif kind in (list, tuple, set, frozenset):
            total += 1
            stack += item
        else:
            total += 1
    return total


def _bounded(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise TooLarge(f"{what} would hold over {MAX_SIZE} characters or items")


def _checked(value: Any) -> Any:
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise TooLarge(f"an integer of over {MAX_INT_BITS} bits")
    _bounded(_size(value), "the value")
    return value


_FORMAT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _before(op: type, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be over the bounds, before doing the work."""
    numbers = (int, bool)
    if op is ast.Mult:
        count, sequence = (left, right) if type(left) in numbers else (right, left)
        if type(count) in numbers and type(sequence) in (str, bytes, list, tuple) and count > 0:
            _bounded(_size(sequence) * count, "the repetition")
    elif op is ast.Pow and type(left) in numbers and type(right) in numbers and right > 0 and abs(left) > 1:
        if left.bit_length() * right > MAX_INT_BITS:
            raise TooLarge(f"a power of over {MAX_INT_BITS} bits")
    elif op is ast.LShift and type(left) in numbers and type(right) in numbers and left and right > 0:
        if left.bit_length() + right > MAX_INT_BITS:
            raise TooLarge(f"a shift to over {MAX_INT_BITS} bits")
    elif op is ast.Mod and type(left) in (str, bytes):
        text = left if type(left) is str else left.decode("latin-1")
        for field in _FORMAT_FIELD.finditer(text):
            for width in field.groups():
                if width == "*" or (width and int(width) > MAX_SIZE):
                    raise TooLarge(f"a %-format field wider than {MAX_SIZE} characters (or of * width)")


def evaluate(expression: Any, values: Sequence[Any]) -> Any:
    """Evaluate an outside expression on the values a probe sent back (plain values only).

    Python's own operators on plain values (no object of the program's reaches here), each result bounded.
    """
    kind = expression[0]
    if kind == "const":
        return expression[1]
    if kind == "slot":
        return values[expression[1].index]
    if kind == "function":
        return _CALLS[expression[1]]
    if kind == "compare":
        left = evaluate(expression[1], values)
        for op, right_expr in zip(expression[2], expression[3], strict=True):
            right = evaluate(right_expr, values)
            if not _COMPARE[op](left, right):
                return False
            left = right
        return True
    if kind == "bool":
        result: Any = None
        for item in expression[2]:
            result = evaluate(item, values)
            if (expression[1] is ast.And) != bool(result):
                return result
        return result
    if kind == "if":
        return evaluate(expression[2] if evaluate(expression[1], values) else expression[3], values)
    if kind == "unary":
        return _checked(_UNARY[expression[1]](evaluate(expression[2], values)))
    if kind == "binop":
        left, right = evaluate(expression[2], values), evaluate(expression[3], values)
        _before(expression[1], left, right)
        return _checked(_ARITHMETIC[expression[1]](left, right))
    if kind == "display":
        return _checked(_DISPLAYS[expression[1]]([evaluate(item, values) for item in expression[2]]))
    if kind == "dict":
        keys = [evaluate(k, values) for k in expression[1]]
        return _checked(dict(zip(keys, [evaluate(v, values) for v in expression[2]], strict=True)))
    if kind == "call":
        args = [evaluate(a, values) for a in expression[2]]
        kwargs = {k: evaluate(v, values) for k, v in expression[3].items()}
        return _checked(_CALLS[expression[1]](*args, **kwargs))
    raise ValueError(f"unknown expression {kind!r}")


class _Rewriter(ast.NodeTransformer):
    def __init__(self, source: str) -> None:
        self.source = source
        self.plans: list[Plan] = []
        self.static_failures: list[str] = []

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        splitter = _Splitter(self.source)
        expression = splitter.outside(node.test)
        text = (ast.get_source_segment(self.source, node) or ast.unparse(node))[:200]
        if not splitter.inside:
            if not evaluate(expression, ()):
                self.static_failures.append(text)
            return ast.copy_location(ast.Pass(), node)
        index = len(self.plans)
        self.plans.append(Plan(expression, len(splitter.inside), node.lineno, text))
        call = ast.Call(ast.Name(PROBE, ast.Load()), [ast.Constant(index), *splitter.inside], [])
        return ast.copy_location(ast.Expr(call), node)


def split(source: str) -> SplitScript:
    """The inside script and the outside plans of an assertion script."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise AssertionScriptError(f"the test script does not parse: {type(exc).__name__}: {exc}") from None
    rewriter = _Rewriter(source)
    try:
        tree = ast.fix_missing_locations(rewriter.visit(tree))
        inside = ast.unparse(tree)
    except RecursionError:  # 1 + 1 + ... thousands of times: no parenthesis, yet a tree that deep
        raise AssertionScriptError("the test script nests expressions too deeply to read") from None
    if not rewriter.plans and not rewriter.static_failures:
        raise AssertionScriptError(f"the test script has no assert statement: {source[:120]!r}")
    return SplitScript(inside, tuple(rewriter.plans), tuple(rewriter.static_failures))
