"""Audit a reward: responses it should not credit, scored beside a known-correct and a known-wrong control.

`rewardkit audit --reward NAME --data train.jsonl` runs the built-in probes;
a team adds its own as plain functions of a dataset line:

    from rewardkit.audit import probe

    @probe("units_only", kinds=["answer"])
    def units_only(line):
        \"\"\"Only the unit, no number.\"\"\"
        yield "unit", line.say("cm")

A probe yields `(variant, text)` pairs or `ProbeResponse`s (with thinking or
tool calls). `line.answer` is the gold, `line.wrong` a wrong value,
`line.say(value)` states a value the way the reward credits its gold. A
reward declares which probe families apply with `@kinds("judge")`; without
it, the built-in rewards' table and then its name decide ("answer" by default).
"""

from __future__ import annotations

from ._audit.lines import AuditLine, read_lines
from ._audit.probes import BUILTIN_KINDS, KINDS, Probe, ProbeResponse, all_probes, kinds, kinds_of, probe, probes_for
from ._audit.run import AuditReport, ProbeRow, audit
from ._public import show_as

__all__ = ["probe", "kinds", "kinds_of", "ProbeResponse", "Probe", "AuditLine", "AuditReport", "ProbeRow",
           "KINDS", "BUILTIN_KINDS", "all_probes", "probes_for", "read_lines", "audit"]

show_as(__name__, ProbeResponse, Probe, AuditLine, AuditReport, ProbeRow)
