"""Prompts that do not fit the model's context.

Every prompt is measured with the model's own tokenizer (after its chat template) before it is
sent. When prompt + max_tokens exceeds the context (`model.max_model_len`, as the engine sees it):

- `backend.long_prompts: error` (default): the problem's samples are recorded without generation,
  with finish reason `prompt_too_long` and the reason in `error`. They score as `error` (never
  correct, never retried: the same prompt would not fit next time either), and the run goes on.
- `backend.long_prompts: clamp`: max_tokens is reduced to what fits, for that problem only, and
  recorded. A prompt that leaves no room at all is recorded as with `error`.

Either way the count and the problem ids go into the invocation's `usage` in the manifest
(`prompt_too_long`, `max_tokens_clamped`), the summary and metrics.json (`usage`).
"""

from __future__ import annotations

import logging
from typing import Any

from harness.errors import ConfigError
from harness.types import Completion, Request

log = logging.getLogger(__name__)

POLICIES = ("error", "clamp")
TOO_LONG = "prompt_too_long"


def policy(cfg: Any) -> str:
    p = str(cfg.get("long_prompts") or "error")
    if p not in POLICIES:
        raise ConfigError("backend.long_prompts", f"must be one of {', '.join(POLICIES)}, got {p!r}")
    return p


class Fit:
    """Decides, per request, how many tokens may be generated; counts what it changed."""

    def __init__(self, context: int | None, how: str):
        self.context = context
        self.how = how
        self.too_long: list[str] = []
        self.too_long_samples = 0
        self.clamped: list[str] = []
        self.clamped_samples = 0

    def max_tokens(self, req: Request, prompt_len: int) -> int | None:
        """max_tokens for this request, or None when it cannot be generated at all."""
        want = req.params.max_tokens
        if self.context is None or prompt_len + want <= self.context:
            return want
        room = self.context - prompt_len
        if self.how == "clamp" and room >= 1:
            self.clamped.append(req.problem_id)
            self.clamped_samples += req.n
            log.warning("%s: prompt of %d tokens + max_tokens %d > context %d: max_tokens clamped to %d",
                        req.problem_id, prompt_len, want, self.context, room)
            return room
        self.too_long.append(req.problem_id)
        self.too_long_samples += req.n
        log.warning("%s: prompt of %d tokens + max_tokens %d > context %d: %d samples recorded as %s",
                    req.problem_id, prompt_len, want, self.context, req.n, TOO_LONG)
        return None

    def errored(self, req: Request, prompt_len: int) -> list[Completion]:
        reason = (f"{TOO_LONG}: prompt {prompt_len} tokens + max_tokens {req.params.max_tokens} "
                  f"> max_model_len {self.context}")
        return [Completion(problem_id=req.problem_id, sample=s, text="", finish_reason=TOO_LONG,
                           output_tokens=0, prompt_tokens=prompt_len, error=reason) for s in req.samples]

    def usage(self) -> dict[str, Any]:
        u: dict[str, Any] = {}
        if self.too_long:
            u.update(prompt_too_long=self.too_long_samples, prompt_too_long_ids=list(self.too_long))
        if self.clamped:
            u.update(max_tokens_clamped=self.clamped_samples, max_tokens_clamped_ids=list(self.clamped))
        return u
