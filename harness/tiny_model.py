"""A tiny randomly initialised Llama with a locally trained BPE tokenizer and a chat template.

Nothing is downloaded: the tokenizer is trained on text generated here, the weights come from a
seeded random initialisation. Used by `make eval` on CPU and by the tests, through the same
loading code (transformers / vLLM `from_pretrained`) that real models go through.

The shapes respect vLLM's CPU attention kernels, which accept head sizes 32, 64, 80, ... only.
"""

from __future__ import annotations

import json
import logging
import os
import random
from pathlib import Path

log = logging.getLogger(__name__)

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}<|system|>{{ m['content'] }}<|end|>"
    "{% elif m['role'] == 'user' %}<|user|>{{ m['content'] }}<|end|>"
    "{% else %}<|assistant|>{{ m['content'] }}<|end|>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<think>", "</think>"]
SHAPE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
             num_key_value_heads=1, head_dim=32, max_position_embeddings=2048)
VERSION = 1  # bump when the recipe changes, so stale builds are rebuilt


def _corpus(seed: int, lines: int = 4000) -> list[str]:
    """Math-flavoured text for the tokenizer: numbers, LaTeX, reasoning words."""
    rng = random.Random(seed)
    words = ("the of and to is we so let then find value answer step reason therefore since sum "
             "product number integer prime root equation solve compute total first next finally "
             "triangle circle area angle probability").split()
    latex = [r"\frac{%d}{%d}", r"\sqrt{%d}", r"%d^{%d}", r"\boxed{%d}", r"x + %d = %d", r"\pi r^%d + %d"]
    out = []
    for _ in range(lines):
        parts = []
        for _ in range(rng.randint(4, 14)):
            if rng.random() < 0.3:
                t = rng.choice(latex)
                parts.append(t % tuple(rng.randint(0, 99) for _ in range(t.count("%d"))))
            else:
                parts.append(rng.choice(words))
        out.append(" ".join(parts))
    return out


def build_tiny_model(out: Path, seed: int = 0, vocab_size: int = 512) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(seed), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="<|end|>", unk_token="<unk>", pad_token="<pad>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(fast), bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id, tie_word_embeddings=True, torch_dtype="float32", **SHAPE,
    )
    model = LlamaForCausalLM(cfg)
    model.generation_config.do_sample = True
    model.save_pretrained(out, safe_serialization=True)
    (out / "tiny_model.json").write_text(json.dumps({"version": VERSION, "seed": seed}) + "\n")
    return out


def ensure_tiny_model(path: Path, seed: int = 0) -> Path:
    """Build the tiny model at `path` unless an identical build is already there."""
    path = path.expanduser().resolve()
    stamp = path / "tiny_model.json"
    if stamp.exists():
        try:
            if json.loads(stamp.read_text()) == {"version": VERSION, "seed": seed}:
                return path
        except json.JSONDecodeError:
            pass
    log.info("building the tiny model at %s (seed %d)", path, seed)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    build_tiny_model(tmp, seed=seed)
    if path.exists():
        import shutil

        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Build the project's tiny random Llama (no download).")
    ap.add_argument("--out", default=".cache/tiny-llama")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    print(ensure_tiny_model(Path(args.out), seed=args.seed))


if __name__ == "__main__":
    main()
