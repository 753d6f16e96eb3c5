"""A tiny causal LM and its tokenizer, built here with random weights: nothing is downloaded.

A byte-level BPE tokenizer trained on a few lines (any text encodes, byte by byte at worst), ChatML special
tokens and chat template, and a two-layer Qwen2 model of that vocabulary. Saved once under
$REWARDKIT_BED_WORK/tiny-lm, the folder a trainer is given as its model and tokenizer path.
"""

from __future__ import annotations

import os
from pathlib import Path

CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = ["What is 6 * 7? The answer is \\boxed{42}.", "<think> six sevens are forty-two </think> 42",
          "Reply with the word yes.", "one two three four five six seven eight nine ten 0 1 2 3 4 5 6 7 8 9",
          "user assistant system", "How long is the side? It is 2 cm."]


def build(folder: Path | None = None) -> Path:
    """The folder holding the tokenizer and model (made on first use)."""
    folder = folder or Path(os.environ.get("REWARDKIT_BED_WORK", ".")) / "tiny-lm"
    if (folder / "config.json").exists():
        return folder
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(CORPUS * 20, trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHATML
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    model = Qwen2ForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def report(check: str, ok: bool, detail: object = "", reward_seconds: float | None = None) -> None:
    """One check's line for the bed's table."""
    import json

    print(json.dumps({"check": check, "ok": bool(ok), "detail": str(detail)[:300],
                      "reward_seconds": reward_seconds}), flush=True)
