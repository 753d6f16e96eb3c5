"""Assertion scripts, split so that their expected values stay outside the sandbox.

Each `assert` becomes a probe: the parts of its condition that call into the
program (or use the script's own names) are evaluated inside the sandbox and
sent back as plain values; the rest -- literals, comparisons, arithmetic, a
few pure builtins such as `abs`, `len`, `sorted`, `math.isclose` -- is
evaluated here, on those values. So

    assert abs(candidate(2.0) - 1.414) < 1e-3

sends `__rk_probe__(0, candidate(2.0))` into the sandbox and keeps
`abs(_ - 1.414) < 1e-3` out of it: the program never sees 1.414, and an
object whose `__eq__` or `__sub__` always agrees never leaves the sandbox
(only plain values do). A value the script computes itself (a reference
solution inside `check`) is evaluated inside and is only as trustworthy as
the sandbox process; write expected values as literals.
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass
from typing import Any, Callable, Sequence

PROBE = "__rk_probe__"

_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: a is b or (type(a) is type(b) and a == b and not isinstance(a, (list, dict, set))),
    ast.IsNot: lambda a, b: not (a is b or (type(a) is type(b) and a == b and not isinstance(a, (list, dict, set)))),
}
_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
# Pure functions the outside evaluator may apply to the program's plain values.
_CALLS: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": round, "len": len, "sorted": sorted, "set": set, "frozenset": frozenset, "list": list,
    "tuple": tuple, "min": min, "max": max, "sum": sum, "all": all, "any": any, "str": str, "int": int,
    "float": float, "bool": bool, "math.isclose": math.isclose, "isclose": math.isclose,
}


class AssertionScriptError(ValueError):
    """A test script that cannot be read (a dataset problem)."""


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


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
        return f"{node.func.value.id}.{node.func.attr}"
    return None


class _Splitter:
    """Turn one assert condition into an outside expression and the inside parts it needs."""

    def __init__(self) -> None:
        self.inside: list[ast.expr] = []

    def outside(self, node: ast.expr) -> Any:
        ok, value = _literal(node)
        if ok:
            return ("const", value)
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            return ("compare", self.outside(node.left), [type(op) for op in node.ops],
                    [self.outside(c) for c in node.comparators])
        if isinstance(node, ast.BoolOp):
            return ("bool", type(node.op), [self.outside(v) for v in node.values])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
            return ("unary", type(node.op), self.outside(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return ("binop", type(node.op), self.outside(node.left), self.outside(node.right))
        if (isinstance(node, ast.Call) and _call_name(node) in _CALLS
                and not any(isinstance(a, ast.Starred) for a in node.args)
                and all(k.arg is not None for k in node.keywords)):
            return ("call", _call_name(node), [self.outside(a) for a in node.args],
                    {k.arg: self.outside(k.value) for k in node.keywords})
        self.inside.append(node)
        return ("slot", Slot(len(self.inside) - 1))


def _numbers(*values: Any) -> bool:
    return all(type(v) in (int, float, complex) for v in values)


def evaluate(expression: Any, values: Sequence[Any]) -> Any:
    """Evaluate an outside expression on the values a probe sent back (plain values only)."""
    kind = expression[0]
    if kind == "const":
        return expression[1]
    if kind == "slot":
        return values[expression[1].index]
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
    if kind == "unary":
        operand = evaluate(expression[2], values)
        if expression[1] is ast.Not:
            return not operand
        if not _numbers(operand):
            raise TypeError(f"bad operand type for unary minus or plus: {type(operand).__name__}")
        return -operand if expression[1] is ast.USub else +operand
    if kind == "binop":
        left, right = evaluate(expression[2], values), evaluate(expression[3], values)
        if not _numbers(left, right) and not (expression[1] is ast.Add and type(left) is type(right)
                                              and type(left) in (str, list, tuple)):
            raise TypeError(f"unsupported operand types: {type(left).__name__} and {type(right).__name__}")
        return _ARITHMETIC[expression[1]](left, right)
    if kind == "call":
        args = [evaluate(a, values) for a in expression[2]]
        kwargs = {k: evaluate(v, values) for k, v in expression[3].items()}
        return _CALLS[expression[1]](*args, **kwargs)
    raise ValueError(f"unknown expression {kind!r}")


class _Rewriter(ast.NodeTransformer):
    def __init__(self, source: str) -> None:
        self.source = source
        self.plans: list[Plan] = []
        self.static_failures: list[str] = []

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        splitter = _Splitter()
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
    except (SyntaxError, ValueError) as exc:
        raise AssertionScriptError(f"the test script does not parse: {exc}") from None
    rewriter = _Rewriter(source)
    tree = ast.fix_missing_locations(rewriter.visit(tree))
    if not rewriter.plans and not rewriter.static_failures:
        raise AssertionScriptError(f"the test script has no assert statement: {source[:120]!r}")
    return SplitScript(ast.unparse(tree), tuple(rewriter.plans), tuple(rewriter.static_failures))
