"""Per-row checklists: each row's own rubric criteria and IFEval constraints, one weighted score.

The policy, written before the code:

- **Where the checks come from.** The row's references under `key` (default `"rubric"`: Vertex
  `references`, DashScope `rollout_extra`), as a list or as its JSON text: each item a plain
  string (a criterion of weight 1), `{"criterion": TEXT, "weight": W, "essential": BOOL, "id":
  NAME}` (`description` is read as `criterion`, as Rubrics-as-Rewards rows spell it), or
  `{"instruction_id": IFEVAL_ID, "kwargs": {...}, "weight", "essential", "id"}`. IFEval's own
  `instruction_id_list` + `kwargs` keys in the same references add constraints of weight 1.
  Weights are positive: a "pitfall" is written as the criterion to meet, not a negative weight.
  A row with no checks, or a malformed one, fails the call naming the item; it is never a pass.
- **Who checks.** IFEval constraints run in code, through `rewards.instructions` (IFEval's strict
  semantics, the response without its thinking); criteria go to the judge, all in one call
  (`ask="together"`) or one call per criterion (`ask="each"`), each answered "yes" or "no".
- **The score.** The weighted fraction of checks met. An unmet essential check caps it at
  `essential_cap` (default 0.0: a response missing an essential point earns nothing however
  much else it gets right). Every check is a metric (1/0) under its id: the item's `id`, else
  `c1`, `c2`... by its place in the list, and an IFEval constraint's instruction id.
- **What the judge must say.** A verdict for every criterion asked, each yes/no (true/false,
  pass/fail, met/unmet). A criterion the judge left out, or answered otherwise, fails the call as
  JUDGE_UNPARSEABLE naming it: a missing verdict is never counted as met.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal

from rewardkit import MissingReferenceError, RegistrationError, RewardkitError, Sample, Score, reward
from rewardkit.clients import JudgeUnparseable
from rewards.instructions import Constraint, ConstraintError, constraint

from ._defences import trivial
from ._judging import Asker, JudgeOptions, all_of, connect, quoted
from ._prompts import check_template, json_question, messages, render
from ._verdicts import last_json_object
from .pointwise import _named, judged_text
from .rubric import RUBRIC_TASK

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

YES = frozenset({"yes", "true", "pass", "met", "1"})
NO = frozenset({"no", "false", "fail", "unmet", "not met", "0"})
RESERVED = frozenset({"met", "checks", "essential_unmet"})  # the reward's own metrics, besides judge_*
_ID = re.compile(r"[A-Za-z_][\w.:#-]*")


class ChecklistError(RewardkitError, ValueError):
    """A row's checklist that cannot be read: the message names the item and what was expected."""


@dataclass(frozen=True)
class Check:
    """One check of a row: a criterion for the judge, or an IFEval constraint run in code."""

    id: str
    weight: float = 1.0
    essential: bool = False
    criterion: str | None = None
    constraint: Constraint | None = None


def _decoded(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ChecklistError(f"{where} is text but not JSON: {value[:100]!r}") from None


def _check(item: Any, n: int, where: str) -> Check:
    """The n-th item (1-based) of a row's list as a Check."""
    here = f"{where}[{n - 1}]"
    if isinstance(item, str):
        item = {"criterion": item}
    if not isinstance(item, dict):
        raise ChecklistError(f"{here}: expected a criterion's text or an object, got {item!r:.100}")
    weight, essential = item.get("weight", 1.0), item.get("essential", False)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
        raise ChecklistError(f"{here}: weight must be a number > 0, got {weight!r} (write a pitfall as the "
                             "criterion to meet)")
    if not isinstance(essential, bool):
        raise ChecklistError(f"{here}: essential must be true or false, got {essential!r}")
    text = item.get("criterion", item.get("description"))
    found = None
    if "instruction_id" in item:
        try:
            found = constraint(item["instruction_id"], item.get("kwargs"), here)
        except ConstraintError as exc:
            raise ChecklistError(str(exc)) from None
    elif not isinstance(text, str) or not text.strip():
        raise ChecklistError(f"{here}: needs 'criterion' (the text the judge checks) or 'instruction_id', got "
                             f"keys {sorted(item)}")
    name = item.get("id") or (found.id if found else f"c{n}")
    if not isinstance(name, str) or not _ID.fullmatch(name):
        raise ChecklistError(f"{here}: id must be letters, digits, '_', '.', ':', '#' or '-' (it names a metric), "
                             f"got {name!r}")
    if found is not None:
        return Check(name, float(weight), essential, constraint=found)
    return Check(name, float(weight), essential, criterion=" ".join(str(text).split()))


def read_checks(references: Mapping[str, Any], key: str, ids_key: str, kwargs_key: str) -> list[Check]:
    """The row's checks, in order: its list under `key`, then IFEval's `ids_key` + `kwargs_key` constraints."""
    items = _decoded(references.get(key), f"references.{key}") if references.get(key) is not None else []
    if not isinstance(items, list):
        raise ChecklistError(f"references.{key} must be a list of criteria, got {type(items).__name__}")
    checks = [_check(item, n, f"references.{key}") for n, item in enumerate(items, 1)]
    if references.get(ids_key) is not None:
        ids = _decoded(references[ids_key], f"references.{ids_key}")
        kwargs = _decoded(references.get(kwargs_key), f"references.{kwargs_key}")
        ids = [ids] if isinstance(ids, str) else ids
        kwargs = kwargs if isinstance(kwargs, list) else [kwargs or {} for _ in ids or ()]
        if not isinstance(ids, list) or len(kwargs) != len(ids):
            raise ChecklistError(f"references.{ids_key} must be a list with one kwargs object per id in "
                                 f"references.{kwargs_key}, got {ids!r:.100} and {kwargs!r:.100}")
        checks += [_check({"instruction_id": i, "kwargs": k}, n, f"references.{ids_key}")
                   for n, (i, k) in enumerate(zip(ids, kwargs, strict=True), 1)]
    if not checks:
        raise MissingReferenceError(f"no checklist in the request: put a list of criteria under references.{key} "
                                    f"(Vertex `references`, DashScope `rollout_extra`), or IFEval's {ids_key}")
    return _unique(checks)


def _unique(checks: list[Check]) -> list[Check]:
    """Checks with distinct ids: a repeated IFEval id becomes `id#2`; a repeated declared id is refused."""
    seen: set[str] = set()
    out = []
    for c in checks:
        name, n = c.id, 2
        while name in seen and c.constraint is not None:
            name, n = f"{c.id}#{n}", n + 1
        if name in seen:
            raise ChecklistError(f"two checks have the id {name!r}; ids name metrics and must differ")
        if name in RESERVED or name.startswith("judge"):
            raise ChecklistError(f"check id {name!r} is taken by the reward's own metrics; rename it")
        seen.add(name)
        out.append(Check(name, c.weight, c.essential, c.criterion, c.constraint))
    return out


def _question(criteria: Sequence[Check]) -> str:
    return json_question("Check the answer against each criterion below. For each, decide whether the answer "
                         "meets it (yes) or not (no).", [(c.id, str(c.criterion)) for c in criteria],
                         '"yes" or "no"')


def _verdicts(reply: str, criteria: Sequence[Check]) -> dict[str, bool]:
    """Each criterion's yes/no from a reply; a criterion not answered, or answered otherwise, is unparseable."""
    try:
        answers = last_json_object(reply)
        missing = [c.id for c in criteria if c.id not in answers]
        if missing:
            raise JudgeUnparseable(f"the judge gave no verdict for {', '.join(missing)}")
        found = {}
        for c in criteria:
            said = answers[c.id]
            word = str(said).strip().casefold() if isinstance(said, (str, bool, int)) else None
            if word not in YES | NO:
                raise JudgeUnparseable(f"criterion {c.id!r}: {said!r} is not yes or no")
            found[c.id] = word in YES
        return found
    except JudgeUnparseable as exc:
        raise JudgeUnparseable(f"{exc.detail}; {quoted(reply)}") from None


def scored(checks: Sequence[Check], met: Mapping[str, bool], essential_cap: float) -> tuple[float, str]:
    """The weighted fraction met, capped when an essential check is unmet, and the reason saying so."""
    total = sum(c.weight for c in checks)
    value = sum(c.weight for c in checks if met[c.id]) / total
    missed = [c.id for c in checks if not met[c.id]]
    reason = f"{len(checks) - len(missed)} of {len(checks)} checks met (weighted {value:.3g})"
    if missed:
        reason += f"; unmet: {', '.join(missed)}"
    essential = [c.id for c in checks if c.essential and not met[c.id]]
    if essential and value > essential_cap:
        value = essential_cap
        reason += f"; essential {', '.join(essential)} unmet: capped at {essential_cap:g}"
    return value, reason


def checklist_reward(
    name: str,
    *,
    key: str = "rubric",
    ask: Literal["together", "each"] = "together",
    essential_cap: float = 0.0,
    prompt: str = RUBRIC_TASK,
    system: str | None = None,
    keep_thinking: bool = False,
    ids_key: str = "instruction_id_list",
    kwargs_key: str = "kwargs",
    **options: Unpack[JudgeOptions],
) -> Callable[..., Any]:
    """A per-row checklist reward: the weighted fraction of the row's checks met (see the module's policy).

    The row's criteria are read from `references[key]` (a list or its JSON text), its IFEval
    constraints from the items with `instruction_id` and from `references[ids_key]` +
    `references[kwargs_key]`. Criteria are judged together in one call (`ask="together"`) or
    one call each (`ask="each"`); constraints are checked in code. An unmet essential check
    caps the score at `essential_cap`. Metrics: one per check (1/0), `met`, `checks`,
    `essential_unmet`, and the judge's costs. `options`: see JudgeOptions.
    """
    if ask not in ("together", "each"):
        raise RegistrationError(f"checklist reward {name!r}: ask must be 'together' or 'each', got {ask!r}")
    for option, value in (("key", key), ("ids_key", ids_key), ("kwargs_key", kwargs_key)):
        if not isinstance(value, str) or not value:
            raise RegistrationError(f"checklist reward {name!r}: {option} must be a references key, got {value!r}")
    if isinstance(essential_cap, bool) or not isinstance(essential_cap, (int, float)) or not 0 <= essential_cap <= 1:
        raise RegistrationError(f"checklist reward {name!r}: essential_cap must be in [0, 1], got {essential_cap!r}")
    check_template(prompt, name)
    client, registration = connect(name, options)

    async def checked(sample: Sample) -> Score:
        try:
            checks = read_checks(sample.references, key, ids_key, kwargs_key)
        except ChecklistError as exc:
            raise ChecklistError(f"{name}: {exc}") from None
        response = judged_text(sample, keep_thinking)
        plain = judged_text(sample, False)
        met = {c.id: bool(plain.strip()) and c.constraint.check(plain) for c in checks if c.constraint is not None}
        criteria = [c for c in checks if c.criterion is not None]
        asker = Asker(client, registration["timeout"])
        said = ""
        unfit = trivial(response)
        if criteria and unfit:
            met.update({c.id: False for c in criteria})
            said = f"{unfit}: criteria unmet without asking the judge"
        elif criteria:
            groups = [criteria] if ask == "together" else [[c] for c in criteria]
            task = render(prompt, sample, response, name)
            replies = await all_of([asker.ask(messages(f"{task}\n{_question(g)}", system)) for g in groups])
            for reply, group in zip(replies, groups, strict=True):
                met.update(_verdicts(reply, group))
            said = quoted(replies[-1])
        value, reason = scored(checks, met, essential_cap)
        metrics = {c.id: float(met[c.id]) for c in checks}
        metrics.update(met=float(sum(met.values())), checks=float(len(checks)),
                       essential_unmet=float(sum(c.essential and not met[c.id] for c in checks)),
                       **asker.costs.metrics())
        return Score(value, f"{reason}; {said}" if said else reason, metrics)

    _named(checked, name, f"per-row checklist {name!r}: references.{key} criteria (judged) and IFEval constraints")
    return reward(checked, name=name, **registration)
