"""TRL: rewardkit rewards as reward functions of `trl.GRPOTrainer`.

    from rewardkit.trl import reward_func
    trainer = GRPOTrainer(model=..., train_dataset=dataset,
                          reward_funcs=[reward_func("math_accuracy"), reward_func("think_format")])

`reward_func` scores in rewardkit's worker processes, in the trainer's process; `remote_reward_func(url, ...)`
posts to a served rewardkit instead (`rewardkit serve`, its AWS Nova batch route). Neither imports TRL or torch.

The call TRL makes (huggingface/trl trl/trainer/grpo_trainer.py, `GRPOTrainer._calculate_rewards`):
`reward_func(prompts=prompts, completions=completions, completion_ids=completion_ids_list, **reward_kwargs)`,
where `reward_kwargs` holds every dataset column but prompt/completion/completion_ids (one value per
completion), `trainer_state`, `log_extra`, `log_metric`, and `environments` when there are any. Prompts and
completions are strings (standard format) or lists of message dicts (conversational format; a completion's
reasoning in `reasoning_content` as the tokenizer's response parser splits it off). Each prompt's
`num_generations` completions come one after another (`RepeatSampler`). A `None` in the answer is turned into
NaN and left out of the group's mean and the logged reward (TRL 0.16 on; the same in 1.16.0).
"""

from ._trl_adapter import RemoteRewardFunc, RewardFunc, remote_reward_func, reward_func

__all__ = ["reward_func", "remote_reward_func", "RewardFunc", "RemoteRewardFunc"]
