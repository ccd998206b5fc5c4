"""A scripted OpenAI-compatible chat server on 127.0.0.1, for the backend's tests.

Each POST /v1/chat/completions takes the next action of a script (or, when a rule matches the
request's user message, the rule's action; when neither applies, "ok"):

    ok                       a chat completion with `n` choices
    status:<code>[:<s>]      that HTTP status, with Retry-After: <s> when given
    slow:<s>                 wait s seconds, then answer ok (a client with a shorter timeout gives up)
    hold                     wait until `release()` is called, then answer ok
    drop                     close the connection without answering
    garbage                  200 with a body that is not JSON
    echo_key:<code>          that status with the request's Authorization header in the message

Answers are deterministic: the text of choice j is "<prefix> seed=<seed+j> ... \\boxed{<answer>}",
where <answer> comes from `answers` (keyed by a substring of the problem) or is "0". Every
request is logged with its arrival and response times (time.monotonic), its body, its
Authorization header and the action taken.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hit:
    arrived: float
    body: dict[str, Any]
    action: str
    authorization: str | None
    responded: float | None = None

    @property
    def user(self) -> str:
        return next((m["content"] for m in self.body.get("messages", []) if m["role"] == "user"), "")

    @property
    def key(self) -> tuple[str, Any]:
        """Identifies one call across its retries."""
        return self.user, self.body.get("seed")


@dataclass
class FakeOpenAI:
    models: list[str] = field(default_factory=lambda: ["tiny-llama"])
    answers: dict[str, str] = field(default_factory=dict)   # problem substring -> answer to box
    reasoning: bool = False          # also return reasoning_content (as DeepSeek's API does)
    per_choice_usage: bool = False   # add vLLM-style token_ids to each choice
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        assert self.host == "127.0.0.1"
        self.script: deque[str] = deque()
        self.rules: list[tuple[str, str]] = []
        self.hits: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------
    def push(self, *actions: str) -> None:
        with self._lock:
            self.script.extend(actions)

    def rule(self, substring: str, action: str) -> None:
        """Every request whose user message contains `substring` gets `action`."""
        with self._lock:
            self.rules.append((substring, action))

    def heal(self) -> None:
        with self._lock:
            self.script.clear()
            self.rules.clear()

    def release(self) -> None:
        self._release.set()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}/v1"

    def chat_hits(self) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.action != "models"]

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    with fake._lock:
                        fake.hits.append(Hit(time.monotonic(), {}, "models", self.headers.get("Authorization")))
                    self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in fake.models]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                hit = Hit(time.monotonic(), body, "ok", self.headers.get("Authorization"))
                with fake._lock:
                    action = next((a for s, a in fake.rules if s in hit.user), None)
                    if action is None and fake.script:
                        action = fake.script.popleft()
                    hit.action = action or "ok"
                    fake.hits.append(hit)
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    self._act(hit)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                        hit.responded = time.monotonic()

            def _act(self, hit: Hit) -> None:
                kind, _, arg = hit.action.partition(":")
                if kind == "ok":
                    self._json(200, fake.completion(hit.body))
                elif kind == "status":
                    code, _, retry_after = arg.partition(":")
                    headers = {"Retry-After": retry_after} if retry_after else {}
                    self._json(int(code), {"error": {"message": f"scripted {code}", "type": "scripted"}}, headers)
                elif kind == "slow":
                    time.sleep(float(arg))
                    self._json(200, fake.completion(hit.body))
                elif kind == "hold":
                    fake._release.wait(60)
                    self._json(200, fake.completion(hit.body))
                elif kind == "drop":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                elif kind == "garbage":
                    self._raw(200, b"<html>upstream went away</html>", "application/json")
                elif kind == "echo_key":
                    msg = f"Incorrect API key provided: {hit.authorization}"
                    self._json(int(arg), {"error": {"message": msg, "type": "invalid_request_error"}})
                else:
                    raise ValueError(f"unknown action {hit.action!r}")

            def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                self._raw(code, json.dumps(obj).encode(), "application/json", headers)

            def _raw(self, code: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- answers -------------------------------------------------------------------------------
    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        n = int(body.get("n") or 1)
        seed = body.get("seed")
        user = next((m["content"] for m in body.get("messages", []) if m["role"] == "user"), "")
        answer = next((a for s, a in self.answers.items() if s in user), "0")
        choices, total = [], 0
        for j in range(n):
            s = None if seed is None else seed + j
            text = f"Working it out (seed={s}). The final answer is \\boxed{{{answer}}}."
            tokens = len(text.split()) + j  # differ per choice
            total += tokens
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if self.reasoning:
                message["reasoning_content"] = f"Let me think about it carefully (choice {j})."
            choice: dict[str, Any] = {"index": j, "message": message, "finish_reason": "stop"}
            if self.per_choice_usage:
                choice["token_ids"] = list(range(tokens))
            choices.append(choice)
        prompt_tokens = len(user.split())
        return {
            "id": f"chatcmpl-{len(self.hits)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "?"),
            "system_fingerprint": "fake-1",
            "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": total,
                      "total_tokens": prompt_tokens + total},
        }

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
