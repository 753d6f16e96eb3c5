"""Per-row checklists, label maps, probability-weighted scores and panels, served in tests/test_checklists.py.

The judge is tests/judge_server.py; its address, model and key come from the environment
(REWARDKIT_JUDGE_BASE_URL, REWARDKIT_JUDGE_MODEL, OPENAI_API_KEY), as in a deployment.
bench/judge_bench.py's checklist section serves them too.
"""

import os

from rewards.judge import JudgeLimits, LabelScore, NumberScore, checklist_reward, judge_reward

# bench/judge_bench.py sets both: a step of one-call-per-criterion rows queues longer than a test's calls.
LIMITS = JudgeLimits(concurrency=int(os.environ.get("JUDGE_CAP", "8")), attempts=2)
TIMEOUT = float(os.environ.get("JUDGE_TIMEOUT", "20"))
RATE = "Rate the answer from 1 to 5:\n{{response}}\nEnd with 'Score: N'."

checklist = checklist_reward("checklist", limits=LIMITS, timeout=TIMEOUT)
checklist_each = checklist_reward("checklist_each", ask="each", limits=LIMITS, timeout=TIMEOUT)
checklist_lenient = checklist_reward("checklist_lenient", essential_cap=0.3, limits=LIMITS, timeout=TIMEOUT)

graded = judge_reward("graded", prompt=RATE, parse=r"Score:\s*(\d)", score=NumberScore(1, 5), limits=LIMITS,
                      timeout=TIMEOUT)
weighted = judge_reward("weighted", prompt=RATE, parse=r"Score:\s*(\d)", score=NumberScore(1, 5),
                        probabilities=True, limits=LIMITS, timeout=TIMEOUT)

labelled = judge_reward(
    "labelled", prompt="Gold: {{references.answer}}\nAnswer:\n{{response}}\n"
                       "Is it correct, partially correct or incorrect? End with 'Verdict: LABEL'.",
    parse=r"Verdict:\s*([^\n]+)", score=LabelScore({"correct": 1.0, "partially correct": 0.5, "incorrect": 0.0}),
    limits=LIMITS, timeout=TIMEOUT,
)
graded_letter = judge_reward("graded_letter", prompt="Grade A (best) to E:\n{{response}}\nGrade: X",
                             parse=r"Grade:\s*([A-Za-z])", score={"A": 1.0, "B": 0.75, "C": 0.5, "D": 0.25, "E": 0.0},
                             probabilities=True, limits=LIMITS, timeout=TIMEOUT)

panel = judge_reward("panel", prompt=RATE, parse=r"Score:\s*(\d)", score=NumberScore(1, 5),
                     panel=["judge-a", "judge-b", "judge-c"], limits=LIMITS, timeout=TIMEOUT)
panel_median = judge_reward("panel_median", prompt=RATE, parse=r"Score:\s*(\d)", score=NumberScore(1, 5),
                            panel=["judge-a", "judge-b", "judge-c"], aggregate="median", limits=LIMITS, timeout=TIMEOUT)
panel_majority = judge_reward("panel_majority", prompt=RATE, parse=r"Score:\s*(\d)", score=NumberScore(1, 5),
                              panel=["judge-a", "judge-b", "judge-c"], aggregate="majority", limits=LIMITS,
                              timeout=TIMEOUT)
panel_all = judge_reward("panel_all", prompt=RATE, parse=r"Score:\s*(\d)", score=NumberScore(1, 5),
                         panel=["judge-a", "judge-b", "judge-c"], quorum=3, limits=LIMITS, timeout=TIMEOUT)
