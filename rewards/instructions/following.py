"""`instruction_following`: IFEval's verifiable instructions checked against the response."""

from __future__ import annotations

import ast
import json
from typing import Annotated, Any, Literal, Mapping

from annotated_types import MinLen

from rewardkit import MissingReferenceError, Score, reward

from ..common import strip_thinking
from ._checkers import Constraint, ConstraintError, constraint

Mode = Literal["strict", "loose"]


def _json(value: Any, where: str) -> Any:
    """A value given as JSON text, as a Python literal (open-instruct stores `str([{...}])` and reads it with
    `ast.literal_eval`), or already decoded."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        pass
    try:
        return ast.literal_eval(value)  # literals only: never runs code
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ConstraintError(f"{where} is neither JSON nor a Python literal: {value[:100]!r}") from None


def _pairs(ids: Any, kwargs: Any, where: str) -> list[Constraint]:
    ids, kwargs = _json(ids, f"{where} instruction ids"), _json(kwargs, f"{where} kwargs")
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, list) or not ids:
        raise ConstraintError(f"{where}: the instruction ids must be a non-empty list, got {ids!r:.100}")
    if kwargs is None:
        kwargs = [{} for _ in ids]
    if isinstance(kwargs, dict) and len(ids) == 1:
        kwargs = [kwargs]
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise ConstraintError(f"{where}: {len(ids)} instruction id(s) but kwargs is {kwargs!r:.100}; "
                              "expected a list with one object per id")
    return [constraint(i, k, f"{where}, constraint {n}") for n, (i, k) in enumerate(zip(ids, kwargs, strict=True), 1)]


def read_constraints(references: Mapping[str, Any], gold: Any, ids_key: str, kwargs_key: str) -> list[Constraint]:
    """The request's constraints: IFEval's `instruction_id_list` + `kwargs`, else the gold answer.

    The gold answer (DashScope `ground_truth`, references `ground_truth`) may hold
    `{"instruction_id": [...], "kwargs": [...]}` (open-instruct's IF-RLVR data: a one-element
    list of it, as JSON or a Python literal) or `{"instruction_id_list": [...], "kwargs": [...]}`.
    """
    if references.get(ids_key) is not None:
        return _pairs(references[ids_key], references.get(kwargs_key), "references")
    if gold is None:
        raise MissingReferenceError(
            f"instruction_following: no constraints in the request. Put IFEval's `{ids_key}` and `{kwargs_key}` in "
            "Vertex `references` (JSON text) or DashScope `rollout_extra`, or "
            '{"instruction_id": [...], "kwargs": [...]} in DashScope `ground_truth`'
        )
    value = _json(gold, "the gold answer")
    if isinstance(value, list) and len(value) == 1:
        value = _json(value[0], "the gold answer's first element")
    if isinstance(value, dict) and "func_name" in value:
        raise ConstraintError(
            f"the gold answer names open-instruct function {value['func_name']!r} (the first RLVR-IFeval release): "
            "those functions check open-instruct's own variants (exact counts, 'around'), not IFEval's "
            "instructions; give IFEval's instruction ids and kwargs instead"
        )
    if isinstance(value, dict):
        for ids in ("instruction_id", "instruction_id_list"):
            if ids in value:
                return _pairs(value[ids], value.get("kwargs"), "the gold answer")
    raise ConstraintError(f"the gold answer holds no IFEval constraints (instruction_id + kwargs): {gold!r:.120}")


def loose_variants(text: str) -> list[str]:
    """IFEval's loose mode: the response, without its first line, its last line or both, each also without '*'."""
    lines = text.split("\n")
    cut = [text, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return [cut[0], cut[0].replace("*", ""), *cut[1:], *(c.replace("*", "") for c in cut[1:])]


def followed(item: Constraint, text: str, mode: str) -> bool:
    variants = [text] if mode == "strict" else loose_variants(text)
    return any(v.strip() and item.check(v) for v in variants)


@reward(reference_keys=("ground_truth",), preload=("langdetect",))
def instruction_following(
    response: str,
    references: Mapping[str, Any],
    reference: Any = None,
    mode: Mode = "strict",
    scoring: Literal["fraction", "all"] = "fraction",
    ids_key: Annotated[str, MinLen(1)] = "instruction_id_list",
    kwargs_key: Annotated[str, MinLen(1)] = "kwargs",
) -> Score:
    """The share of the prompt's IFEval instructions the response follows (or 1/0 for all of them).

    Constraints: IFEval's `instruction_id_list` and `kwargs` (one object per
    id; null-valued keys ignored) in the references (JSON text on Vertex),
    else `{"instruction_id": [...], "kwargs": [...]}` in DashScope
    `ground_truth` / references `ground_truth`. All 25 IFEval instruction
    types, with IFEval's semantics (docs/instructions.md lists them). Thinking
    (Vertex thought parts, DashScope reasoning_content, `<think>` blocks) is
    removed first; an empty response follows nothing. An unknown instruction
    id, or kwargs its checker does not take, is an error naming it, never a pass.
    Each constraint is a metric (1/0) under its id; metrics `followed`, `constraints`.

    Parameters:
        mode: "strict" (the response as is) or "loose" (IFEval's loose
            accuracy: followed by the response or by it without its first
            line, last line or both, each also with every "*" removed).
        scoring: "fraction" (followed / total, default) or "all" (1.0 only when every one is followed).
        ids_key: the references key of the instruction ids (default "instruction_id_list").
        kwargs_key: the references key of the kwargs list (default "kwargs").
    """
    try:
        constraints = read_constraints(references, reference, ids_key, kwargs_key)
    except ConstraintError as exc:
        raise ConstraintError(f"instruction_following: {exc}") from None
    text = strip_thinking(response)
    results = [followed(c, text, mode) for c in constraints]
    metrics: dict[str, float] = {}
    for c, ok in zip(constraints, results, strict=True):
        name, n = c.id, 2
        while name in metrics:
            name, n = f"{c.id}#{n}", n + 1
        metrics[name] = float(ok)
    done = sum(results)
    metrics.update(followed=float(done), constraints=float(len(results)))
    value = (1.0 if all(results) else 0.0) if scoring == "all" else done / len(results)
    missed = [c.id for c, ok in zip(constraints, results, strict=True) if not ok]
    reason = f"{done} of {len(results)} instruction(s) followed ({mode})"
    return Score(value, reason + (f"; not followed: {', '.join(missed)}" if missed else ""), metrics)
