"""What `rewardkit audit` prints: a table per probe, the worst examples, a summary; as text, JSON or markdown."""

from __future__ import annotations

import json
from typing import TextIO

from .run import AuditReport, Example, ProbeRow

HEADER = ("PROBE", "CREDITED", "MEAN", "CORRECT", "WRONG", "WORST VARIANT", "VERDICT")
EXAMPLE_CHARS = 120


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _cells(row: ProbeRow) -> tuple[str, ...]:
    above = row.worst_mean is not None and row.worst_mean > (row.wrong_mean or 0.0)
    worst = f"{row.worst_variant} ({_number(row.worst_mean)})" if above else "-"
    credited = f"{row.credited}/{row.responses} ({row.credited_rate:.0%})"
    if row.errors:
        credited += f", {row.errors} err"
    return (row.probe.id, credited, _number(row.mean), _number(row.correct_mean), _number(row.wrong_mean), worst,
            row.verdict)


def _shown(text: str, limit: int = EXAMPLE_CHARS) -> str:
    """The text quoted on one line (JSON escapes), cut to `limit` inside its quotes (not _text.shorten: the quote
    must close)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted if len(quoted) <= limit else quoted[: limit - 4] + '..."'



def _example_line(example: Example) -> str:
    t = example.trial
    response = t.response.text
    if t.response.thinking:
        response = f"[thinking: {t.response.thinking}] {response}"
    if t.response.tool_calls:
        response = f"{response} [{len(t.response.tool_calls)} tool calls: " + ", ".join(
            c["name"] for c in t.response.tool_calls[:4]) + (", ..." if len(t.response.tool_calls) > 4 else "") + "]"
    return (f"{t.line.id} {t.probe}/{t.response.variant}: score {t.score:g} "
            f"(+{example.above_wrong:.3g} over wrong) for {_shown(response.strip())}; "
            f"reason: {_shown(t.reason or '-')}")


def _heading(report: AuditReport) -> list[str]:
    out = [f"reward {report.reward!r} (kind: {', '.join(report.kinds)}) on {report.lines} lines of {report.data}"]
    if report.form is not None:
        out.append(f"controls: known-correct ({report.controls[0]}) mean {_number(report.correct_mean)}; "
                   f"known-wrong ({report.controls[1]}) mean {_number(report.wrong_mean)}")
    return out


def format_table(report: AuditReport) -> str:
    rows = [_cells(row) for row in report.rows]
    widths = [max(len(HEADER[i]), *(len(r[i]) for r in rows)) if rows else len(HEADER[i]) for i in range(len(HEADER))]
    out = _heading(report) + [""]
    if rows:
        out.append("  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)).rstrip())
        out.extend("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
        out.append("")
    if report.worst:
        out.append("worst examples:")
        out.extend(f"  {_example_line(e)}" for e in report.worst)
        out.append("")
    out.extend(f"note: {note}" for note in report.notes)
    out.extend(f"inconclusive: {reason}" for reason in report.inconclusive)
    out.append(report.summary())
    return "\n".join(out)


def format_markdown(report: AuditReport) -> str:
    """For a pull-request comment: the same table and examples as markdown."""
    out = [f"### rewardkit audit: `{report.reward}`", ""]
    out.extend(line + "  " for line in _heading(report))
    out.append("")
    if report.rows:
        out.append("| " + " | ".join(h.lower() for h in HEADER) + " | description |")
        out.append("|" + "---|" * (len(HEADER) + 1))
        for row in report.rows:
            cells = list(_cells(row))
            cells[0] = f"`{cells[0]}`"
            cells[-1] = f"**{cells[-1]}**" if row.verdict != "ok" else cells[-1]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + f" | {row.probe.description} |")
        out.append("")
    if report.worst:
        out.append("Worst examples:")
        out.extend(f"- `{_example_line(e).replace('`', chr(39))}`" for e in report.worst)
        out.append("")
    out.extend(f"> {note}" for note in report.notes)
    out.extend(f"> **inconclusive**: {reason}" for reason in report.inconclusive)
    out.append(f"**{report.summary()}**")
    return "\n".join(out)


def write_report(report: AuditReport, fmt: str, stream: TextIO) -> None:
    if fmt == "json":
        json.dump(report.to_json(), stream, indent=2, ensure_ascii=False)
        stream.write("\n")
        return
    stream.write((format_markdown if fmt == "markdown" else format_table)(report) + "\n")
