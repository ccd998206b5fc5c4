"""Chat completions against an OpenAI-compatible server: `vllm serve` (see `make serve`), SGLang,
TGI, or a hosted API (OpenAI, Anthropic's compatibility endpoint, DeepSeek).

Settings come in three layers, later ones winning: defaults for a local vLLM server, the model's
`api:` block (what a hosted API accepts: model id, endpoint, key variable, n, seed, fixed sampling
parameters, token cap), then any non-null key of `backend` (command-line overrides).

A request of the runner (one problem, n samples) becomes one call with `n` when the server
supports it, otherwise n calls of one sample. Calls run concurrently (at most
`backend.concurrency` in flight; further calls are only created as earlier ones finish, so memory
stays bounded whatever the number of problems) and each completion is handed to the runner as
soon as its call finishes. A failed call is retried with exponential backoff and jitter on 429,
408/409, 5xx, timeouts, dropped connections and unreadable responses; a `Retry-After` header is
honoured and pauses every call, not only the one that got it. A call that still fails after
`backend.max_retries` retries, or fails for a reason retrying cannot fix (400, 422), becomes one
errored completion per sample (finish reason "error", with the reason): nothing is dropped, the
run reports how many, and resuming the run generates exactly those again. Authentication and
unknown-model errors stop the run at once (every call would fail the same way).

API keys are read from the environment variable named by `api_key_env`, only in start(), never
stored in the config, manifest, logs or samples.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import os
import random
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

from harness.backends import Backend, register_backend
from harness.errors import ConfigError, HarnessError
from harness.types import Completion, Message, Request

log = logging.getLogger(__name__)
for _noisy in ("httpx", "httpx2", "openai"):  # one INFO line per HTTP request is too many
    if logging.getLogger(_noisy).level < logging.WARNING:
        logging.getLogger(_noisy).setLevel(logging.WARNING)

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # where `make serve` listens by default
NO_KEY = "no-key"  # sent when no key variable is configured (a local server without --api-key)
SAMPLING_KEYS = ("temperature", "top_p")
RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
FATAL_STATUS = {401: "api_key_env", 403: "api_key_env", 404: "model"}
SYSTEM_ROLES = ("system", "developer", "user")

# Keys that may be set in model.api and overridden by backend.<key> (null = inherit).
PROFILE_DEFAULTS: dict[str, Any] = {
    "base_url": DEFAULT_BASE_URL,
    "api_key_env": None,        # no key unless a variable is named
    "model": None,              # the model id sent; default: model.name (what `make serve` serves)
    "n_per_request": True,      # one call with n samples (else n calls)
    "max_n": 128,               # split larger n into several calls
    "seed": True,               # send a seed (request seed + offset of the first sample in the call)
    "vllm_params": True,        # the server accepts vLLM's extra fields (top_k, return_token_ids)
    "max_tokens_param": "max_tokens",   # or max_completion_tokens (OpenAI's reasoning models)
    "max_output_tokens": None,  # the API's cap on generated tokens: min(sampling.max_tokens, cap) is sent
    "fixed": {},                # sampling parameters the API does not take: {name: value it uses instead}
    "system_role": "system",    # how a system prompt is sent: system | developer | user (merged into the user turn)
    "extra_body": {},           # more request fields (e.g. reasoning_effort)
}


@dataclass(frozen=True)
class ApiProfile:
    base_url: str
    api_key_env: str | None
    model: str
    n_per_request: bool
    max_n: int
    seed: bool
    vllm_params: bool
    max_tokens_param: str
    max_output_tokens: int | None
    fixed: dict[str, Any]
    system_role: str
    extra_body: dict[str, Any]

    @property
    def loopback(self) -> bool:
        host = urlparse(self.base_url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def resolve_profile(cfg: Mapping[str, Any], model_cfg: Mapping[str, Any]) -> ApiProfile:
    api = model_cfg.get("api") or {}
    unknown = set(api) - set(PROFILE_DEFAULTS)
    if unknown:
        raise ConfigError("model.api", f"unknown keys {sorted(unknown)} (known: {', '.join(PROFILE_DEFAULTS)})")
    merged: dict[str, Any] = {}
    for key, default in PROFILE_DEFAULTS.items():
        value = default
        if api.get(key) is not None:
            value = api[key]
        if cfg.get(key) is not None:
            value = cfg[key]
        merged[key] = value
    merged["model"] = str(merged["model"] or model_cfg["name"])
    merged["base_url"] = str(merged["base_url"]).rstrip("/")
    if not urlparse(merged["base_url"]).scheme.startswith("http"):
        raise ConfigError("backend.base_url", f"must be an http(s) URL, got {merged['base_url']!r}")
    if merged["max_tokens_param"] not in ("max_tokens", "max_completion_tokens"):
        raise ConfigError("model.api.max_tokens_param",
                          f"must be max_tokens or max_completion_tokens, got {merged['max_tokens_param']!r}")
    if merged["system_role"] not in SYSTEM_ROLES:
        raise ConfigError("model.api.system_role", f"must be one of {SYSTEM_ROLES}, got {merged['system_role']!r}")
    fixed = dict(merged["fixed"] or {})
    bad = set(fixed) - {*SAMPLING_KEYS, "top_k", "seed", "n"}
    if bad:
        raise ConfigError("model.api.fixed", f"unknown sampling parameters {sorted(bad)}")
    merged["fixed"] = fixed
    merged["extra_body"] = dict(merged["extra_body"] or {})
    merged["max_n"] = max(1, int(merged["max_n"]))
    if merged["max_output_tokens"] is not None:
        merged["max_output_tokens"] = int(merged["max_output_tokens"])
    for key in ("n_per_request", "seed", "vllm_params"):
        merged[key] = bool(merged[key])
    return ApiProfile(**merged)


@dataclass(frozen=True)
class Call:
    """One HTTP request's worth of samples."""

    request: Request
    samples: tuple[int, ...]
    seed: int


@dataclass
class Outcome:
    completions: list[Completion]
    fatal: HarnessError | None = None


@dataclass
class _Failure:
    reason: str            # short machine word: rate_limited, server_error, timeout, connection, invalid_response, client_error
    message: str
    retryable: bool
    retry_after: float | None = None
    fatal_key: str | None = None
    status: int | None = None


@dataclass
class Backoff:
    base: float = 1.0           # first retry waits about this long (seconds)
    max: float = 60.0           # exponential growth stops here
    jitter: float = 0.5         # fraction of each wait that is random
    retry_after_max: float = 600.0   # longest Retry-After honoured (longer ones are cut to this)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Wait before retry number `attempt` (1-based). With a Retry-After, at least that long."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_max) * (1 + 0.1 * self.jitter * self.rng.random())
        d = min(self.max, self.base * 2 ** (attempt - 1))
        return d * (1 - self.jitter) + d * self.jitter * self.rng.random()


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def adapt_messages(messages: Sequence[Message], role: str) -> list[dict[str, str]]:
    """Send the system prompt the way the API takes it."""
    out = [dict(m) for m in messages]
    if role == "system":
        return out
    if role == "developer":
        return [{**m, "role": "developer"} if m["role"] == "system" else m for m in out]
    system = "\n\n".join(m["content"] for m in out if m["role"] == "system")
    rest = [m for m in out if m["role"] != "system"]
    if system:
        for m in rest:
            if m["role"] == "user":
                m["content"] = f"{system}\n\n{m['content']}"
                break
        else:
            rest.insert(0, {"role": "user", "content": system})
    return rest


def split_tokens(total: int, texts: Sequence[str]) -> list[int]:
    """Share a token total among choices in proportion to their text length (largest remainder),
    for servers that report usage per request only."""
    weights = [max(len(t), 1) for t in texts]
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)[: total - sum(out)]:
        out[i] += 1
    return out


def _extra(obj: Any, *names: str) -> Any:
    """A field the openai client's models do not declare (server extensions), if present."""
    for name in names:
        v = getattr(obj, name, None)
        if v is None:
            v = (getattr(obj, "model_extra", None) or {}).get(name)
        if v is not None:
            return v
    return None


@register_backend("openai")
class OpenAIBackend(Backend):
    name = "openai"
    identity_neutral = frozenset({"concurrency", "timeout", "max_retries", "base_url", "api_key_env", "backoff",
                                  "check_model"})
    serves_api_models = True

    def __init__(self, cfg: Mapping[str, Any], model_cfg: Mapping[str, Any]):
        self.cfg = cfg
        self.model_cfg = model_cfg
        self.profile = resolve_profile(cfg, model_cfg)
        self.concurrency = int(cfg.get("concurrency") or 8)
        if self.concurrency < 1:
            raise ConfigError("backend.concurrency", f"must be >= 1, got {self.concurrency}")
        self.timeout = float(cfg.get("timeout") or 600)
        retries = cfg.get("max_retries")
        self.max_retries = int(retries) if retries is not None else 6
        b = dict(cfg.get("backoff") or {})
        unknown = set(b) - {"base", "max", "jitter", "retry_after_max"}
        if unknown:
            raise ConfigError("backend.backoff", f"unknown keys {sorted(unknown)}")
        self.backoff = Backoff(**{str(k): float(v) for k, v in b.items() if v is not None})  # type: ignore[arg-type]
        self.check_model = bool(cfg.get("check_model", True))
        self._api_key: str | None = None
        self._served: list[str] | None = None
        self._not_before = 0.0          # loop time before which no call is sent (shared Retry-After)
        self.counters: Counter[str] = Counter()
        self.sleeps: deque[tuple[str, float]] = deque(maxlen=10_000)  # (reason, seconds) of the latest backoffs
        self.backoff_seconds = 0.0
        self.sent: dict[str, Any] = {}  # the sampling fields of the last request body, for the record
        self.served_models: Counter[str] = Counter()
        self._warned = 0

    # -- setup ---------------------------------------------------------------------------------
    def _key(self) -> str:
        env = self.profile.api_key_env
        if not env:
            return NO_KEY
        value = os.environ.get(str(env), "")
        if not value:
            raise ConfigError(
                "backend.api_key_env",
                f"the environment variable {env} is empty or not set; it must hold the API key for "
                f"{self.profile.base_url} (keys are read from the environment only, never from configs)",
            )
        return value

    def start(self) -> None:
        self._api_key = self._key()
        if self.check_model and self.profile.loopback:
            self._served = asyncio.run(self._list_models())
            if self.profile.model not in self._served:
                raise ConfigError(
                    "backend.model",
                    f"the server at {self.profile.base_url} serves {self._served}, not "
                    f"{self.profile.model!r} (start it with `make serve MODEL={self.model_cfg['name']}`, "
                    f"or set backend.model)",
                )

    async def _list_models(self) -> list[str]:
        import openai

        client = self._client()
        try:
            page = await asyncio.wait_for(client.models.list(), timeout=min(self.timeout, 30))
            return [m.id for m in page.data]
        except (openai.APIConnectionError, TimeoutError) as e:
            raise ConfigError(
                "backend.base_url",
                f"nothing answers at {self.profile.base_url} ({type(e).__name__}); start a server with "
                f"`make serve MODEL={self.model_cfg['name']}` or point backend.base_url at one",
            ) from e
        except openai.APIStatusError as e:
            raise self._fatal_error(e.status_code, str(e)) from e
        finally:
            await client.close()

    def _client(self):
        import openai

        extra: dict[str, Any] = {}
        if self.profile.loopback:  # a local server is reached directly, whatever proxy the environment sets
            extra["http_client"] = openai.DefaultAsyncHttpxClient(trust_env=False, timeout=self.timeout)
        return openai.AsyncOpenAI(
            base_url=self.profile.base_url,
            api_key=self._api_key or NO_KEY,   # always explicit: never the client's own env lookup
            max_retries=0,                     # retries are ours, so they are counted
            timeout=self.timeout,
            **extra,
        )

    def _scrub(self, text: str) -> str:
        key = self._api_key
        if key and key != NO_KEY and key in text:
            text = text.replace(key, "***")
        return text

    # -- what is sent --------------------------------------------------------------------------
    def calls(self, requests: Sequence[Request]) -> Iterator[Call]:
        p = self.profile
        for req in requests:
            if p.n_per_request and "n" not in p.fixed:
                for off in range(0, req.n, p.max_n):
                    yield Call(req, req.samples[off : off + p.max_n], req.seed + off)
            else:
                for off, s in enumerate(req.samples):
                    yield Call(req, (s,), req.seed + off)

    def body(self, call: Call) -> dict[str, Any]:
        """Keyword arguments of chat.completions.create for one call (messages included)."""
        p, params = self.profile, call.request.params
        body: dict[str, Any] = {"model": p.model, "messages": adapt_messages(call.request.messages, p.system_role)}
        if len(call.samples) > 1:
            body["n"] = len(call.samples)
        for key in SAMPLING_KEYS:
            if key not in p.fixed:
                body[key] = getattr(params, key)
        max_tokens = params.max_tokens
        if p.max_output_tokens is not None:
            max_tokens = min(max_tokens, p.max_output_tokens)
        body[p.max_tokens_param] = max_tokens
        if p.seed and "seed" not in p.fixed:
            body["seed"] = call.seed
        extra = dict(p.extra_body)
        if p.vllm_params:
            if params.top_k and params.top_k > 0 and "top_k" not in p.fixed:
                extra["top_k"] = params.top_k
            if len(call.samples) > 1:
                extra["return_token_ids"] = True  # exact output tokens per choice
        if extra:
            body["extra_body"] = extra
        return body

    def protocol_overrides(self) -> dict[str, Any]:
        """Protocol fields where what the API uses differs from the sampling config (merge these into
        the run's protocol record)."""
        out: dict[str, Any] = {}
        for key in SAMPLING_KEYS:
            if key in self.profile.fixed:
                out[key] = self.profile.fixed[key]
        if "top_k" in self.profile.fixed:
            out["top_k"] = self.profile.fixed["top_k"]
        if not self.profile.vllm_params and "top_k" not in out:
            out["top_k"] = -1  # top_k cannot be sent to this API
        if not self.profile.seed or "seed" in self.profile.fixed:
            out["seed"] = None
        return out

    def info(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            client = f"openai=={version('openai')}"
        except PackageNotFoundError:
            client = "openai"
        p = self.profile
        notes = []
        for key, value in p.fixed.items():
            notes.append(f"{key} is not sent: the API uses {value!r} whatever the sampling config says")
        if p.max_output_tokens is not None:
            notes.append(f"{p.max_tokens_param} is capped at the API's {p.max_output_tokens} tokens")
        if not p.seed:
            notes.append("no seed is sent: samples are not reproducible")
        if not p.vllm_params:
            notes.append("top_k cannot be sent to this API")
        info: dict[str, Any] = {
            "name": self.name,
            "client": client,
            "base_url": p.base_url,
            "api_key_env": p.api_key_env,
            "model": p.model,
            "served_models": self._served,
            "api": {k: v for k, v in asdict(p).items() if k not in ("base_url", "api_key_env", "model")},
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "backoff": {k: getattr(self.backoff, k) for k in ("base", "max", "jitter", "retry_after_max")},
            "protocol_overrides": self.protocol_overrides(),
            "notes": notes,
        }
        return info

    def usage(self) -> dict[str, Any]:
        u: dict[str, Any] = {k: self.counters.get(k, 0) for k in ("requests", "retries", "errors", "rate_limited")}
        u.update({k: v for k, v in self.counters.items() if k not in u})
        u["backoff_seconds"] = round(self.backoff_seconds, 3)
        if self.sent:
            u["sent"] = dict(self.sent)
        if self.served_models:
            u["served_by"] = dict(self.served_models)
        return u

    # -- generation ----------------------------------------------------------------------------
    def generate(self, requests: Sequence[Request]) -> Iterator[Completion]:
        if self._api_key is None:
            self._api_key = self._key()
        loop = asyncio.new_event_loop()
        client = None
        pending: set[asyncio.Task] = set()
        todo = self.calls(requests)
        try:
            client = loop.run_until_complete(self._make_client())
            exhausted = False
            while True:
                while not exhausted and len(pending) < self.concurrency:
                    call = next(todo, None)
                    if call is None:
                        exhausted = True
                    else:
                        pending.add(loop.create_task(self._run(client, call)))
                if not pending:
                    break
                done, pending = loop.run_until_complete(asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED))
                fatal = None
                for task in done:
                    outcome: Outcome = task.result()
                    yield from outcome.completions
                    fatal = fatal or outcome.fatal
                if fatal is not None:
                    raise fatal
        finally:
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            if client is not None:
                loop.run_until_complete(client.close())
            loop.close()
            if self.counters.get("errors"):
                log.warning("%d samples could not be generated (recorded as errors; rerun the same command "
                            "to retry them)", self.counters["errors"])

    async def _make_client(self):
        return self._client()

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _run(self, client, call: Call) -> Outcome:
        loop = asyncio.get_running_loop()
        body = self.body(call)
        attempt = 0
        while True:
            wait = self._not_before - loop.time()
            if wait > 0:
                await self._sleep(wait)
            self.counters["requests"] += 1
            try:
                resp = await asyncio.wait_for(client.chat.completions.create(**body), timeout=self.timeout)
                completions = self._completions(call, resp)
                self._record_sent(body)
                return Outcome(completions)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # classified below; anything unknown is a per-call error
                failure = self._classify(e)
            self.counters[failure.reason] += 1
            if failure.fatal_key is not None:
                return Outcome([], fatal=self._fatal_error(failure.status, failure.message))
            if not failure.retryable or attempt >= self.max_retries:
                return Outcome(self._errored(call, failure, attempt))
            attempt += 1
            self.counters["retries"] += 1
            delay = self.backoff.delay(attempt, failure.retry_after)
            if failure.retry_after is not None:
                self._not_before = max(self._not_before, loop.time() + delay)
            self.sleeps.append((failure.reason, delay))
            self.backoff_seconds += delay
            self._warn(f"{call.request.problem_id}: {failure.reason} ({failure.message}); "
                       f"retry {attempt}/{self.max_retries} in {delay:.1f}s")
            await self._sleep(delay)

    def _warn(self, msg: str) -> None:
        self._warned += 1
        if self._warned <= 5:
            log.warning("%s", msg)
        elif self._warned == 6:
            log.warning("more retries follow; their count is in the run's usage record")
        else:
            log.debug("%s", msg)

    def _classify(self, e: Exception) -> _Failure:
        import openai

        msg = self._scrub(" ".join(str(e).split()))[:300]
        if isinstance(e, (TimeoutError, openai.APITimeoutError)):
            return _Failure("timeouts", f"no response within {self.timeout:g}s", True)
        if isinstance(e, openai.APIConnectionError):
            cause = e.__cause__ or e.__context__
            detail = f"{type(cause).__name__}: {cause}" if cause else msg
            return _Failure("connection_errors", self._scrub(" ".join(detail.split()))[:300], True)
        if isinstance(e, openai.APIStatusError):
            status = e.status_code
            retry_after = parse_retry_after(e.response.headers if e.response is not None else None)
            if status == 429:
                return _Failure("rate_limited", msg, True, retry_after, status=status)
            if status in FATAL_STATUS:
                return _Failure(f"http_{status}", msg, False, fatal_key=FATAL_STATUS[status], status=status)
            if status in RETRYABLE_STATUS or status >= 500:
                return _Failure("server_errors", f"HTTP {status}: {msg}", True, retry_after, status=status)
            return _Failure("client_errors", f"HTTP {status}: {msg}", False, status=status)
        # a 200 whose body is not a chat completion (truncated JSON, a proxy's HTML page, ...)
        return _Failure("invalid_responses", f"{type(e).__name__}: {msg}", True)

    def _fatal_error(self, status: int | None, message: str) -> HarnessError:
        key = FATAL_STATUS.get(status or 0, "base_url")
        if key == "api_key_env":
            hint = (f"the server refused the key (HTTP {status}); check the key in "
                    f"${self.profile.api_key_env}" if self.profile.api_key_env else
                    f"the server wants a key (HTTP {status}): set backend.api_key_env to the variable holding it")
        elif key == "model":
            hint = f"the server does not know the model {self.profile.model!r} (HTTP {status})"
        else:
            hint = f"HTTP {status}"
        return ConfigError(f"backend.{key}", f"{hint}: {self._scrub(message)[:300]}")

    def _errored(self, call: Call, failure: _Failure, retries: int) -> list[Completion]:
        self.counters["errors"] += len(call.samples)
        reason = f"{failure.reason}: {failure.message}"
        if failure.retryable:
            reason += f" (gave up after {retries} retries)"
        log.warning("%s samples %s: %s", call.request.problem_id, list(call.samples), reason)
        return [Completion(problem_id=call.request.problem_id, sample=s, text="", finish_reason="error",
                           error=reason) for s in call.samples]

    def _record_sent(self, body: Mapping[str, Any]) -> None:
        if not self.sent:
            self.sent = {k: v for k, v in body.items() if k not in ("messages", "seed", "n")}
            self.sent["seed"] = "per call" if "seed" in body else None
            self.sent["system_role"] = self.profile.system_role

    def _completions(self, call: Call, resp: Any) -> list[Completion]:
        """Completions of one response, in sample order. Raises on a body that is not a chat
        completion (retried); choices missing from a valid response become errored samples."""
        choices = sorted(resp.choices, key=lambda c: c.index)
        if not choices:
            raise ValueError("the response has no choices")
        model = getattr(resp, "model", None)
        if model:
            self.served_models[str(model)] += 1
        usage = getattr(resp, "usage", None)
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        completion_tokens = getattr(usage, "completion_tokens", None)
        if usage is not None:
            self.counters["api_prompt_tokens"] += int(prompt_tokens or 0)
            self.counters["api_completion_tokens"] += int(completion_tokens or 0)
            details = getattr(usage, "completion_tokens_details", None)
            reasoning_tokens = getattr(details, "reasoning_tokens", None) if details else None
            if reasoning_tokens:
                self.counters["api_reasoning_tokens"] += int(reasoning_tokens)
        texts = [c.message.content or "" for c in choices]
        per_choice: list[int | None]
        token_ids = [_extra(c, "token_ids") for c in choices]
        if all(t is not None for t in token_ids):
            per_choice = [len(t) for t in token_ids]
        elif completion_tokens is None:
            per_choice = [None] * len(choices)
        elif len(choices) == 1:
            per_choice = [int(completion_tokens)]
        else:
            per_choice = list(split_tokens(int(completion_tokens), texts))
        out: list[Completion] = []
        for j, sample in enumerate(call.samples):
            if j >= len(choices):
                self.counters["errors"] += 1
                out.append(Completion(problem_id=call.request.problem_id, sample=sample, text="",
                                      finish_reason="error",
                                      error=f"missing_choice: the server returned {len(choices)} of "
                                            f"{len(call.samples)} choices"))
                continue
            c = choices[j]
            reasoning = _extra(c.message, "reasoning_content", "reasoning")
            out.append(Completion(
                problem_id=call.request.problem_id,
                sample=sample,
                text=texts[j],
                finish_reason=str(c.finish_reason or "stop"),
                output_tokens=per_choice[j],
                prompt_tokens=int(prompt_tokens) if prompt_tokens is not None else None,
                reasoning=str(reasoning) if reasoning else None,
            ))
        return out
