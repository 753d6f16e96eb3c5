"""The servers the benchmark compares rewardkit with.

`ceiling`: a bare FastAPI endpoint that parses the JSON body and returns a
fixed answer: the most any Python ASGI reward service can do per request.
`ConstantProcessor`: the same trivial reward as a DashScope SDK processor, for
the SDK's own reference server.
"""

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ceiling = FastAPI()


@ceiling.post("/{path:path}")
async def fixed_answer(request: Request) -> JSONResponse:
    json.loads(await request.body())
    return JSONResponse({"reward": 1.0, "user_requested_aux_info": None})


try:
    from dashscope.finetune.reinforcement.component.data import Reward, RewardInput, RewardOutput, TaskStatus
    from dashscope.finetune.reinforcement.component.processor.abstract_reward_processor import AbstractRewardProcessor

    class ConstantProcessor(AbstractRewardProcessor):
        def process(self, input_data: RewardInput) -> RewardOutput:
            return RewardOutput(reward=Reward(reward_score=1.0), status=TaskStatus.SUCCESS)

except ImportError:  # the dashscope package is optional: that comparison is skipped
    ConstantProcessor = None
