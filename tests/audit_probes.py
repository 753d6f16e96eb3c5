"""A team's own probe, registered with the decorator (loaded by `rewardkit audit --probe-module`)."""

from rewardkit.audit import ProbeResponse, probe


@probe("gold_twice_reversed", kinds=["answer"])
def gold_twice_reversed(line):
    """The gold written backwards, twice."""
    yield "reversed", line.say(line.answer[::-1] * 2)
    yield ProbeResponse(f"{line.wrong}\n{line.answer}", "wrong_then_gold_on_a_new_line")


@probe("broken_probe", kinds=["team_only"])
def broken_probe(line):
    """A probe with a bug: the command names it and the line, and exits 2."""
    yield "fine", "x"
    raise KeyError("no such field")
