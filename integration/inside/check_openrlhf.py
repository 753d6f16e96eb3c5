"""OpenRLHF's remote reward clients against served rewardkits (integration/openrlhf_bed.py runs it).

- 0.10 and later: `openrlhf.utils.agent.SingleTurnAgentExecutor.execute`, the rollout step that tokenizes the
  prompt, asks the engine for a continuation, decodes prompt and response together and posts them to
  `--reward.remote_url`. The engine is the one stand-in (vLLM needs a GPU): the tiny random model's generate,
  or a scripted continuation where the check needs a known answer; everything else is OpenRLHF's code.
- 0.9.0: `openrlhf.utils.remote_rm_utils.RemoteRewardModel`, the Ray actor that splits a batch across its
  URLs, then `experience_maker.update_samples_with_rewards`, which concatenates the servers' answers.

Usage: check_openrlhf.py URL1 URL2 (two served rewardkits).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import sys
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import torch
from tiny import build, report

PROMPT = "<|im_start|>user\nWhat is 6 * 7?<|im_end|>\n<|im_start|>assistant\n"


@dataclass
class SamplingParams:  # the fields of vllm.SamplingParams the executor reads
    max_tokens: int | None = 16
    logprobs: int | None = None


class Engine:
    """vLLM's `generate` as the executor awaits it: the tiny model's continuation, or a scripted text."""

    def __init__(self, tokenizer: Any, model: Any, scripted: str | None = None) -> None:
        self.tokenizer, self.model, self.scripted = tokenizer, model, scripted

    async def generate(self, prompt_token_ids: list[int], params: Any, multi_modal_data: Any = None) -> Any:
        if self.scripted is not None:
            ids = self.tokenizer(self.scripted)["input_ids"] + [self.tokenizer.eos_token_id]
        else:
            out = self.model.generate(torch.tensor([prompt_token_ids]), max_new_tokens=params.max_tokens,
                                      do_sample=True, pad_token_id=self.tokenizer.pad_token_id)
            ids = out[0][len(prompt_token_ids):].tolist()
        finish = "length" if len(ids) >= (params.max_tokens or 0) else "stop"
        return SimpleNamespace(outputs=[SimpleNamespace(token_ids=ids, finish_reason=finish, logprobs=None)])


def current(url: str, tokenizer: Any, model: Any) -> None:
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    async def run(executor: Any, label: Any, scripted: str | None) -> tuple[Any, float]:
        started = time.monotonic()
        out = await executor.execute(PROMPT, label, SamplingParams(), 64, tokenizer, Engine(tokenizer, model, scripted))
        return out, time.monotonic() - started

    executor = SingleTurnAgentExecutor(remote_rm_url=f"{url}/rewards/math_accuracy/openrlhf")
    for name, label, scripted, want in (("a correct answer", "42", "so \\boxed{42}", [1.0]),
                                        ("a wrong answer", "42", "so \\boxed{41}", [0.0]),
                                        ("a JSON-object label scores as its answer", '{"answer": "42", "unit": "m"}',
                                         "so \\boxed{42}", [1.0])):
        out, seconds = asyncio.run(run(executor, label, scripted))
        report(f"OpenRLHF executor: {name}", out["reward"] == want and out["scores"] == want,
               {"reward": out["reward"], "extra_logs": out["extra_logs"]}, seconds)
    out, seconds = asyncio.run(run(executor, "42", None))
    report("OpenRLHF executor: the tiny model's own continuation", isinstance(out["reward"], list)
           and len(out["reward"]) == 1, out["reward"], seconds)
    failing = SingleTurnAgentExecutor(remote_rm_url=f"{url}/rewards/word_count/openrlhf")
    out, seconds = asyncio.run(run(failing, None, "RAISE"))
    report("OpenRLHF executor: a failed reward: 5 attempts, logged, reward None", out["reward"] is None
           and seconds >= 4, f"reward {out['reward']} after {seconds:.1f} s", seconds)


@dataclass
class Samples:  # what update_samples_with_rewards reads and writes of an Experience
    sequences: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)
    rewards: Any = None
    scores: Any = None


def older(urls: list[str]) -> None:
    import ray
    from openrlhf.utils.remote_rm_utils import RemoteRewardModel

    ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)  # logical CPUs for the scheduler
    model = RemoteRewardModel.remote(SimpleNamespace(micro_rollout_batch_size=4),
                                     [f"{u}/rewards/math_accuracy/openrlhf" for u in urls])
    answers = [f"so \\boxed{{{n}}}<|im_end|>" for n in (42, 41, 42, 40, 42, 42)]
    started = time.monotonic()
    info = ray.get(model.get_rewards.remote([PROMPT + a for a in answers], [PROMPT] * 6, ["42"] * 6))
    seconds = time.monotonic() - started
    want = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]
    got = [r for part in info for r in part["rewards"]]
    report("OpenRLHF 0.9 RemoteRewardModel: a batch split across two URLs (Ray)", got == want and len(info) == 2,
           got, seconds)
    from openrlhf.utils.remote_rm_utils import request_api_wrapper

    started = time.monotonic()
    try:  # what remote_rm_fn_ray runs: 5 attempts, 1 s apart, then an exception that stops the step
        request_api_wrapper(f"{urls[0]}/rewards/word_count/openrlhf",
                            {"query": [PROMPT + "RAISE<|im_end|>"], "prompts": [PROMPT], "labels": [None]})
    except Exception as exc:
        report("OpenRLHF 0.9 request_api_wrapper: a failed reward is retried 5 times, then raised",
               "Request error for 5 times" in str(exc), str(exc)[:120], time.monotonic() - started)
    else:
        report("OpenRLHF 0.9 request_api_wrapper: a failed reward is retried 5 times, then raised", False, "no error")
    samples = [Samples(torch.zeros(3, 4)), Samples(torch.zeros(3, 4))]
    experience_function("update_samples_with_rewards")(info, samples)
    merged = [v for s in samples for v in s.rewards.tolist()]
    report("OpenRLHF 0.9 update_samples_with_rewards merges the two answers", merged == want,
           {k: v.tolist() for k, v in samples[0].info.items()})
    ray.shutdown()


def experience_function(name: str) -> Any:
    """A function of the installed openrlhf/trainer/ppo_utils/experience_maker.py, compiled from its source: the
    module itself imports the trainer's DeepSpeed stack, which needs a GPU to install; this function needs torch."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("openrlhf")
    assert spec is not None and spec.submodule_search_locations
    path = f"{list(spec.submodule_search_locations)[0]}/trainer/ppo_utils/experience_maker.py"
    tree = ast.parse(open(path).read())
    [node] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    namespace: dict[str, Any] = {"torch": torch}
    exec(compile(ast.Module(body=[node], type_ignores=[]), path, "exec"), namespace)
    return namespace[name]


def main() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    version = importlib.metadata.version("openrlhf")
    if tuple(int(p) for p in version.split(".")[:2]) >= (0, 10):
        folder = str(build())
        current(sys.argv[1], AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder))
    else:  # the Ray client posts texts: no model or tokenizer (and this environment's transformers is older)
        older(sys.argv[1:3])


if __name__ == "__main__":
    main()
