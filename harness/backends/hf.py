"""transformers `generate()` with sampling: for machines without vLLM (slow, but the same protocol)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from harness.backends import Backend, register_backend
from harness.backends.fit import Fit, policy
from harness.modelpath import render_chat, resolve_model_path
from harness.types import Completion, Request

log = logging.getLogger(__name__)


@register_backend("hf")
class HFBackend(Backend):
    name = "hf"
    identity_neutral = frozenset({"samples_per_batch", "device"})
    local_engine = True
    loads_weights = True

    def __init__(self, cfg: Mapping[str, Any], model_cfg: Mapping[str, Any]):
        self.cfg = cfg
        self.model_cfg = model_cfg
        self.batch = int(cfg.get("samples_per_batch", 16))
        self.model: Any = None
        self.model_path: str | None = None
        self.device = cfg.get("device")
        self._dtype: str | None = None
        self.fit = Fit(None, policy(cfg))

    def start(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cfg, model_cfg = self.cfg, self.model_cfg
        self.model_path = resolve_model_path(model_cfg)
        revision = model_cfg.get("revision") if not os.path.isdir(self.model_path) else None
        self.device = cfg.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = cfg.get("dtype") or model_cfg.get("dtype") or "auto"
        if self.device == "cpu" and dtype in ("bfloat16", "float16", "auto"):
            dtype = "float32"  # half precision matmuls are slow or unsupported on many CPUs
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path, revision=revision)
        self.model = AutoModelForCausalLM.from_pretrained(
            self.model_path, revision=revision, dtype=getattr(torch, dtype) if dtype != "auto" else "auto",
            trust_remote_code=bool(model_cfg.get("trust_remote_code", False)),
        ).to(self.device)
        self.model.eval()
        self._dtype = dtype
        context = model_cfg.get("max_model_len") or getattr(self.model.config, "max_position_embeddings", None)
        self.fit = Fit(int(context) if context else None, policy(cfg))

    def info(self) -> dict[str, Any]:
        import transformers

        return {"name": self.name, "engine": f"transformers=={transformers.__version__}",
                "model_path": self.model_path, "device": self.device, "dtype": self._dtype}

    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        import torch

        self.fit = Fit(self.fit.context, self.fit.how)  # usage() counts this call only
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        for req in requests:
            ids = render_chat(self.tokenizer, req.messages, self.model_cfg)
            p = req.params
            max_tokens = self.fit.max_tokens(req, len(ids))
            if max_tokens is None:  # the prompt does not fit the context: recorded, not generated
                yield from self.fit.errored(req, len(ids))
                continue
            done = 0
            while done < req.n:
                m = min(self.batch, req.n - done)
                torch.manual_seed(req.seed + done)
                inp = torch.tensor([ids], device=self.device)
                kwargs: dict[str, Any] = dict(max_new_tokens=max_tokens, num_return_sequences=m,
                                              pad_token_id=pad, eos_token_id=eos)
                if p.temperature > 0:
                    kwargs.update(do_sample=True, temperature=p.temperature, top_p=p.top_p)
                    if p.top_k and p.top_k > 0:
                        kwargs["top_k"] = p.top_k
                    else:
                        kwargs["top_k"] = None
                else:
                    kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
                with torch.no_grad():
                    out = self.model.generate(inp, attention_mask=torch.ones_like(inp), **kwargs)
                for j in range(m):
                    new = out[j, len(ids):].tolist()
                    stopped = eos in new
                    if stopped:
                        new = new[: new.index(eos) + 1]
                    text = self.tokenizer.decode(new, skip_special_tokens=True)
                    yield Completion(
                        problem_id=req.problem_id,
                        sample=req.samples[done + j],
                        text=text,
                        finish_reason="stop" if stopped or len(new) < max_tokens else "length",
                        output_tokens=len(new),
                        prompt_tokens=len(ids),
                    )
                done += m

    def usage(self) -> dict[str, Any]:
        return self.fit.usage()

    def close(self) -> None:
        self.model = None
