"""rewardkit.trl: rewardkit rewards called exactly as TRL's GRPOTrainer calls a reward function.

The call is built as huggingface/trl builds it, trl/trainer/grpo_trainer.py `GRPOTrainer._calculate_rewards`
(the same in the repository at commit f2cd577 and in the newest release on PyPI, trl 1.16.0, lines 1584-1647):

    keys = [key for key in inputs[0] if key not in ["prompt", "completion", "completion_ids"]]
    reward_kwargs = {key: [example[key] for example in inputs] for key in keys}
    reward_kwargs["trainer_state"] = self.state
    reward_kwargs["log_extra"] = self._log_completion_extra
    reward_kwargs["log_metric"] = self._log_metric
    output_reward_func = reward_func(prompts=prompts, completions=completions, completion_ids=completion_ids_list,
                                     **reward_kwargs)
    output_reward_func = [reward if reward is not None else torch.nan for reward in output_reward_func]

`inputs` is the batch of dataset rows, each prompt's row repeated num_generations times in a row
(trl/trainer/utils.py `RepeatSampler`); a conversational completion is `[{"role": "assistant", "content":
...}]`, or the tokenizer's parsed response with `reasoning_content` (`_generate_single_turn` then
`parse_response`, trl/chat_template_utils.py). The reward's display name is `get_callable_name`
(trl/trainer/utils.py): `getattr(func, "__name__", type(func).__name__)`.
"""

from __future__ import annotations

import logging
import math
import pickle
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from rewardkit._trainers.trl import groups
from rewardkit.trl import reward_func

from .conftest import REPO

TRAINER_REWARDS = str(REPO / "tests" / "trainer_rewards.py")
QUESTION = "What is 6 * 7?"


@dataclass
class TrainerState:
    """The fields of transformers.TrainerState a reward may read (TRL passes the trainer's own)."""

    global_step: int = 0


class Trainer:
    """What GRPOTrainer keeps for reward functions: its state and the metrics `log_metric` collects."""

    def __init__(self, step: int = 0) -> None:
        self.state = TrainerState(step)
        self.metrics: dict[str, list[float]] = {}
        self.extra: dict[str, list[Any]] = {}

    def _log_metric(self, name: str, value: float) -> None:
        self.metrics.setdefault(name, []).append(value)

    def _log_completion_extra(self, column: str, values: list) -> None:
        self.extra.setdefault(column, []).extend(values)

    def calculate_rewards(self, reward_function: Callable[..., Any], inputs: list[dict[str, Any]],
                          completions: list[Any]) -> list[float]:
        """GRPOTrainer._calculate_rewards for one custom reward function, torch.nan as math.nan."""
        prompts = [x["prompt"] for x in inputs]
        completion_ids_list = [[1, 2, 3] for _ in completions]
        keys = [key for key in inputs[0] if key not in ["prompt", "completion", "completion_ids"]]
        reward_kwargs: dict[str, Any] = {key: [example[key] for example in inputs] for key in keys}
        reward_kwargs["trainer_state"] = self.state
        reward_kwargs["log_extra"] = self._log_completion_extra
        reward_kwargs["log_metric"] = self._log_metric
        output_reward_func = reward_function(prompts=prompts, completions=completions,
                                             completion_ids=completion_ids_list, **reward_kwargs)
        return [reward if reward is not None else math.nan for reward in output_reward_func]


def repeated(rows: list[dict[str, Any]], num_generations: int) -> list[dict[str, Any]]:
    """The batch as RepeatSampler orders it: each row num_generations times in a row."""
    return [row for row in rows for _ in range(num_generations)]


def same(values: list[float], expected: list[float | None]) -> bool:
    return len(values) == len(expected) and all(
        math.isnan(v) if e is None else v == e for v, e in zip(values, expected, strict=True))


@pytest.fixture(scope="module")
def make() -> Any:
    """reward_func on the test rewards with one worker; every pool it started is stopped after the module."""
    made: list[Any] = []

    def build(reward: Any, **options: Any) -> Any:
        options.setdefault("workers", 1)
        function = reward_func(reward, None if not isinstance(reward, str) else TRAINER_REWARDS, **options)
        made.append(function)
        return function

    yield build
    for function in made:
        function.close()


def test_standard_format_with_dataset_columns(make):
    """Standard format: prompt and completion strings; a dataset `answer` column is the gold answer."""
    rows = [{"prompt": QUESTION, "answer": "42"}, {"prompt": "What is 2 + 2?", "answer": "4"}]
    values = Trainer().calculate_rewards(make("exact"), repeated(rows, 2), ["42", "41", "4", " 4 "])
    assert values == [1.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("column, value", [("answer", "1"), ("solution", "2"), ("ground_truth", "3")])
def test_each_usual_gold_column_is_the_reference(make, column, value):
    rows = [{"prompt": QUESTION, column: value, "difficulty": "hard"}]
    trainer = Trainer()
    assert trainer.calculate_rewards(make("gold_number"), rows, ["x"]) == [float(value)]
    # every column but the prompt reaches the reward, and none of TRL's own arguments does
    assert trainer.calculate_rewards(make("column_count"), rows, ["x"]) == [2.0]


def test_conversational_format_keeps_reasoning_apart_from_the_answer(make):
    """Conversational format: message lists; the parsed response's `reasoning_content` is the thinking."""
    prompt = [{"role": "system", "content": "Answer with a number."}, {"role": "user", "content": QUESTION}]
    completions = [[{"role": "assistant", "content": "42", "reasoning_content": "6 * 7 is 42"}],
                   [{"role": "assistant", "content": "41"}]]
    inputs = repeated([{"prompt": prompt, "answer": "42"}], 2)
    trainer = Trainer()
    assert trainer.calculate_rewards(make("exact"), inputs, completions) == [1.0, 0.0]
    assert trainer.calculate_rewards(make("thinking_length"), inputs, completions) == [11.0, 0.0]
    assert trainer.calculate_rewards(make("response_length"), inputs, completions) == [2.0, 2.0]
    assert trainer.calculate_rewards(make("prompt_length"), inputs, completions) == [1000.0 + len(QUESTION)] * 2
    # TRL's LFM2.5 response schema names the reasoning `thinking` (trl/chat_template_utils.py)
    lfm = [[{"role": "assistant", "content": "42", "thinking": "six sevens"}]]
    assert trainer.calculate_rewards(make("thinking_length"), inputs[:1], lfm) == [10.0]


def test_think_format_reads_the_reasoning_trl_split_off(make):
    """TRL's conversational format parses `<think>` out of the completion into `reasoning_content`
    (trl/chat_template_utils.py parse_response): think_format scores the reasoning it finds there."""
    inputs = repeated([{"prompt": [{"role": "user", "content": QUESTION}], "answer": "42"}], 3)
    completions = [[{"role": "assistant", "content": "42", "reasoning_content": "6 * 7 is 42"}],
                   [{"role": "assistant", "content": "<think>6 * 7</think>42"}],
                   [{"role": "assistant", "content": "42"}]]
    trainer = Trainer()
    assert trainer.calculate_rewards(make("think_format"), inputs, completions) == [1.0, 1.0, 0.0]
    # Kept off, only tags in the answer count.
    assert trainer.calculate_rewards(make("think_inline_only"), inputs, completions) == [0.0, 1.0, 0.0]


def test_tool_use_completion_scores_the_last_assistant_turn(make):
    """With tools, TRL appends the tool results and the next parsed response to the completion's messages."""
    completion = [{"role": "assistant", "content": "", "tool_calls": [
                      {"type": "function", "function": {"name": "multiply", "arguments": {"a": 6, "b": 7}}}]},
                  {"role": "tool", "name": "multiply", "content": "42"},
                  {"role": "assistant", "content": "42"}]
    inputs = [{"prompt": [{"role": "user", "content": QUESTION}], "answer": "42"}]
    assert Trainer().calculate_rewards(make("exact"), inputs, [completion]) == [1.0]


def test_grouped_reward_gets_each_prompts_completions_together(make):
    rows = [{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}]
    values = Trainer().calculate_rewards(make("group_position"), repeated(rows, 3), ["x"] * 9)
    assert values == [30.0, 31.0, 32.0] * 3
    # num_generations splits by count, even where two neighbouring dataset rows share a prompt
    same_prompt = repeated([{"prompt": "a"}, {"prompt": "a"}], 2)
    values = Trainer().calculate_rewards(make("group_position", num_generations=2), same_prompt, ["x"] * 4)
    assert values == [20.0, 21.0, 20.0, 21.0]


def test_groups_follow_consecutive_equal_prompts():
    conversational = [[{"role": "user", "content": "a"}]] * 2 + [[{"role": "user", "content": "b"}]]
    assert groups(conversational, None) == [range(2), range(2, 3)]
    with pytest.raises(ValueError, match="num_generations=2"):
        groups(["a", "a", "b"], 2)


def test_name_is_what_trl_logs_under(make):
    function = make("exact")
    assert getattr(function, "__name__", type(function).__name__) == "exact"


def test_failures_are_none_and_logged_once_per_kind(make, caplog):
    function = make("misbehave")
    inputs = [{"prompt": QUESTION}] * 4
    trainer = Trainer()
    with caplog.at_level(logging.WARNING, logger="rewardkit"):
        first = trainer.calculate_rewards(function, inputs, ["raise", "ok", "raise", "raise"])
        second = trainer.calculate_rewards(function, inputs, ["raise"] * 4)
    assert same(first, [None, 1.0, None, None]) and same(second, [None] * 4)
    lines = [r.getMessage() for r in caplog.records if "misbehave" in r.getMessage()]
    assert len(lines) == 1 and "REWARD_ERROR" in lines[0] and "ValueError" in lines[0]
    # TRL's log_metric gets the failed share of each batch
    assert trainer.metrics["rewardkit/misbehave.failed"] == [0.75, 1.0]


def test_missing_gold_is_a_failure_of_its_own_kind(make, caplog):
    with caplog.at_level(logging.WARNING, logger="rewardkit"):
        values = Trainer().calculate_rewards(make("exact"), [{"prompt": QUESTION}], ["42"])
    assert same(values, [None])
    assert any("MISSING_REFERENCE" in r.getMessage() for r in caplog.records)


def test_failure_score_replaces_none_when_configured(make):
    values = Trainer().calculate_rewards(make("misbehave", failure_score=-1.0), [{"prompt": QUESTION}] * 2,
                                         ["raise", "ok"])
    assert values == [-1.0, 1.0]


def test_a_hanging_completion_is_none_and_the_trainer_goes_on(make):
    function = make("misbehave", timeout=1.0)
    inputs = [{"prompt": QUESTION}] * 2
    result: list[list[float]] = []
    def train_step() -> None:
        result.append(Trainer().calculate_rewards(function, inputs, ["hang", "ok"]))

    worker = threading.Thread(target=train_step)
    worker.start()
    # the trainer's own thread is free while the batch is scored
    assert sum(range(1000)) == 499500
    worker.join(timeout=60)
    assert not worker.is_alive(), "the reward call did not return after its completion hung"
    assert same(result[0], [None, 1.0])
    assert Trainer().calculate_rewards(function, inputs, ["ok", "ok"]) == [1.0, 1.0]


def test_a_crashing_worker_is_none_and_the_next_call_works(make, caplog):
    function = make("misbehave")
    inputs = [{"prompt": QUESTION}] * 2
    with caplog.at_level(logging.WARNING, logger="rewardkit"):
        assert same(Trainer().calculate_rewards(function, inputs, ["crash", "ok"]), [None, 1.0])
    assert any("WORKER_CRASHED" in r.getMessage() for r in caplog.records)
    assert Trainer().calculate_rewards(function, inputs, ["ok", "ok"]) == [1.0, 1.0]


def test_metrics_and_step_reach_trl(make):
    trainer = Trainer(step=7)
    trainer.calculate_rewards(make("exact"), [{"prompt": QUESTION, "answer": "42"}] * 2, ["42", "4"])
    assert trainer.metrics["rewardkit/exact.length"] == [1.5]
    assert trainer.metrics["rewardkit/exact.failed"] == [0.0]
    assert trainer.calculate_rewards(make("step_seen"), [{"prompt": QUESTION}], ["x"]) == [7.0]


def test_a_decorated_function_is_found_in_its_module(make):
    from tests import trainer_rewards

    function = make(trainer_rewards.exact)
    assert function.target == "tests.trainer_rewards"
    assert Trainer().calculate_rewards(function, [{"prompt": QUESTION, "answer": "42"}], ["42"]) == [1.0]


def test_picklable_and_scores_after_unpickling(make):
    function = pickle.loads(pickle.dumps(make("exact")))
    try:
        assert Trainer().calculate_rewards(function, [{"prompt": QUESTION, "answer": "42"}], ["42"]) == [1.0]
    finally:
        function.close()


def test_an_unknown_reward_fails_when_the_function_is_made():
    with pytest.raises(Exception, match="no reward named 'nope'.*exact"):
        reward_func("nope", TRAINER_REWARDS)


def test_importable_without_torch_or_the_trainers():
    code = ("import sys, rewardkit.trl, rewardkit.verl; "
            "print(sorted(m for m in ('torch', 'trl', 'verl', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(REPO), check=True)
    assert out.stdout.strip() == "[]"


def _descendants(pid: int) -> set[int]:
    """Live processes below `pid` (this test's own tree only)."""
    children: dict[int, list[int]] = {}
    for name in [p.name for p in Path("/proc").iterdir() if p.name.isdigit()]:
        try:
            state, parent = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            children.setdefault(int(parent), []).append(int(name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _started_by_multiprocessing_itself(pid: int) -> bool:
    # multiprocessing's resource tracker lives as long as the process that first needed it, by design
    return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_close_stops_every_process_the_adapter_started():
    import os

    before = _descendants(os.getpid())
    function = reward_func("exact", TRAINER_REWARDS, workers=2, timeout=5.0)
    assert Trainer().calculate_rewards(function, [{"prompt": QUESTION, "answer": "42"}], ["42"]) == [1.0]
    assert len(_descendants(os.getpid()) - before) >= 2  # two workers (and the forkserver, unless running)
    function.close()
    left = {pid for pid in _descendants(os.getpid()) - before if not _started_by_multiprocessing_itself(pid)}
    assert not left, f"processes left after close(): {left}"


def test_default_workers_share_the_cpus_among_the_trainers_processes():
    from rewardkit._settings import available_cpus
    from rewardkit._trainers.embedded import default_workers

    assert default_workers({}) == available_cpus()
    assert default_workers({"LOCAL_WORLD_SIZE": str(available_cpus() * 2)}) == 1
    assert default_workers({"LOCAL_WORLD_SIZE": "junk"}) == available_cpus()


def test_a_training_script_without_a_main_guard_is_not_run_again_by_the_workers(tmp_path):
    """multiprocessing would import the script in every worker it starts (forkserver, spawn): training again.
    It is run as a plain script, the way `python train.py` (or torchrun/accelerate) runs one, and exits."""
    script = tmp_path / "train.py"
    script.write_text(
        "from rewardkit.trl import reward_func\n"
        f"accuracy = reward_func('exact', {TRAINER_REWARDS!r}, workers=2)\n"
        "print('step', accuracy(prompts=['q', 'q'], completions=['42', '4'], answer=['42', '42']), flush=True)\n"
        f"crashy = reward_func('misbehave', {TRAINER_REWARDS!r}, workers=1)\n"
        "print('step', crashy(prompts=['q', 'q'], completions=['crash', 'ok']), flush=True)\n"  # a worker respawned
        "print('step', crashy(prompts=['q'], completions=['ok']), flush=True)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["step [1.0, 0.0]", "step [None, 1.0]", "step [1.0]"], \
        done.stdout + done.stderr[-3000:]


def test_asynchronous_reward_functions_run_together_on_trls_loop():
    """TRL runs the reward functions that are coroutine functions on its own loop, all at once
    (grpo_trainer.py: `inspect.iscoroutinefunction(reward_func)`, then `asyncio.gather` of
    `await func(prompts=..., completions=..., completion_ids=..., **reward_kwargs)` on `self.async_loop`)."""
    import asyncio
    import inspect

    functions = [reward_func(name, TRAINER_REWARDS, workers=1, asynchronous=True)
                 for name in ("exact", "response_length")]
    assert all(inspect.iscoroutinefunction(f) for f in functions)
    assert [f.__name__ for f in functions] == ["exact", "response_length"]
    kwargs = {"completion_ids": [[1], [1]], "answer": ["42", "42"], "trainer_state": TrainerState()}

    async def run_async_funcs() -> list[list[float]]:
        outputs = await asyncio.gather(*(f(prompts=[QUESTION] * 2, completions=["42", "4"], **kwargs)
                                         for f in functions))
        return [[r if r is not None else math.nan for r in output] for output in outputs]

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        scored = asyncio.run_coroutine_threadsafe(run_async_funcs(), loop).result(timeout=60)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        for function in functions:
            function.reward_function.close()
    assert scored == [[1.0, 0.0], [2.0, 1.0]]



MEDIA_REWARDS = str(REPO / "tests" / "media_rewards.py")


def test_an_images_column_of_pil_images_reaches_the_reward_as_png_media():
    """TRL passes a vision dataset's `images` column as PIL images: the reward gets them as the prompt's media
    (PNG bytes), not as references."""
    from PIL import Image

    rows = [{"prompt": "What is shown?", "images": [Image.new("RGB", (30, 20)), Image.new("L", (5, 6))]},
            {"prompt": "And here?", "images": [Image.new("RGBA", (7, 8))]}]
    counted, width = reward_func("media_seen", MEDIA_REWARDS, workers=1), reward_func("image_width", MEDIA_REWARDS,
                                                                                     workers=1)
    try:
        assert Trainer().calculate_rewards(counted, rows, ["a", "b"]) == [0.2, 0.1]
        assert Trainer().calculate_rewards(width, rows, ["a", "b"]) == [0.03, 0.007]
    finally:
        counted.close()
        width.close()
