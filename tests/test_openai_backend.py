"""The openai backend against the scripted local server: what is sent, what is recorded, how calls
are windowed and streamed back; and the API model configs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fake_openai_server import FakeOpenAI

from harness.backends import build_backend
from harness.backends.openai import (
    OpenAIBackend,
    adapt_messages,
    parse_retry_after,
    resolve_profile,
    split_tokens,
)
from harness.errors import ConfigError
from harness.types import Request, SamplingParams

API_MODELS = ["gpt-4o-2024-05-13", "o1-mini", "o1", "claude-3-5-sonnet-20241022", "deepseek-reasoner", "deepseek-chat"]
PARAMS = SamplingParams(k=4, temperature=0.6, top_p=0.95, max_tokens=32768, seed=0)


def compose(*overrides: str) -> dict:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from harness.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = hydra_compose(config_name="eval", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def backend_for(fake: FakeOpenAI | None = None, model: str = "tiny-llama", **backend) -> OpenAIBackend:
    cfg = compose(f"model={model}", "backend=openai")
    if fake is not None:
        cfg["backend"]["base_url"] = fake.base_url
    cfg["backend"].update(backend)
    b = build_backend(cfg["backend"], cfg["model"])
    assert isinstance(b, OpenAIBackend)
    return b


def req(pid: str, samples=(0, 1, 2, 3), seed: int = 1000, params: SamplingParams = PARAMS, system: str | None = None):
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": f"problem {pid}: what is 1+1?"})
    return Request(problem_id=pid, messages=messages, samples=tuple(samples), params=params, seed=seed)


@pytest.fixture
def fake():
    with FakeOpenAI() as f:
        yield f


# -- settings and request bodies ------------------------------------------------------------------
def test_local_defaults_send_n_seed_and_vllm_fields():
    b = backend_for()
    assert b.profile.base_url == "http://127.0.0.1:8000/v1" and b.profile.model == "tiny-llama"
    (call,) = list(b.calls([req("a", samples=(4, 5, 6))]))
    assert call.samples == (4, 5, 6) and call.seed == 1000
    body = b.body(call)
    assert body["n"] == 3 and body["seed"] == 1000
    assert body["temperature"] == 0.6 and body["top_p"] == 0.95 and body["max_tokens"] == 32768
    assert body["extra_body"] == {"return_token_ids": True}
    top_k = SamplingParams(k=1, temperature=0.6, top_p=0.95, max_tokens=10, seed=0, top_k=20)
    assert b.body(next(b.calls([req("a", (0,), params=top_k)])))["extra_body"] == {"top_k": 20}
    assert b.protocol_overrides() == {}


def test_separate_calls_get_the_seeds_vllm_would_give_the_samples():
    b = backend_for(n_per_request=False)
    calls = list(b.calls([req("a", samples=(2, 3, 5), seed=77)]))
    assert [(c.samples, c.seed) for c in calls] == [((2,), 77), ((3,), 78), ((5,), 79)]
    assert "n" not in b.body(calls[0])
    b = backend_for(max_n=2)
    assert [(c.samples, c.seed) for c in b.calls([req("a", samples=(0, 1, 2, 3, 4), seed=10)])] == [
        ((0, 1), 10), ((2, 3), 12), ((4,), 14)]


def test_o1_sends_what_the_api_takes_and_says_so():
    b = backend_for(model="o1")
    p = b.profile
    assert p.base_url == "https://api.openai.com/v1" and p.api_key_env == "OPENAI_API_KEY"
    assert p.model == "o1-2024-12-17"
    calls = list(b.calls([req("a", samples=(0, 1), system="Be careful.")]))
    assert len(calls) == 2  # no n
    body = b.body(calls[0])
    assert "temperature" not in body and "top_p" not in body and "seed" not in body and "max_tokens" not in body
    assert body["max_completion_tokens"] == 32768
    assert body["messages"][0] == {"role": "developer", "content": "Be careful."}
    assert body["extra_body"] == {"reasoning_effort": "medium"}
    info = b.info()
    assert info["protocol_overrides"] == {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "seed": None}
    assert any("temperature is not sent" in n for n in info["notes"])


def test_gpt4o_caps_max_tokens_at_the_api_limit():
    b = backend_for(model="gpt-4o-2024-05-13")
    body = b.body(next(b.calls([req("a")])))
    assert body["max_tokens"] == 4096 and body["n"] == 4 and body["seed"] == 1000
    assert "extra_body" not in body
    assert any("capped" in n for n in b.info()["notes"])


def test_backend_overrides_win_over_the_model_api_block():
    b = backend_for(model="deepseek-chat", base_url="http://127.0.0.1:9/v1", n_per_request=True)
    assert b.profile.base_url == "http://127.0.0.1:9/v1" and b.profile.n_per_request
    assert b.profile.loopback and not backend_for(model="deepseek-chat").profile.loopback


@pytest.mark.parametrize("name", API_MODELS)
def test_api_model_configs(name):
    cfg = compose(f"model={name}", "backend=openai", "sampling=r1")
    m = cfg["model"]
    assert m["name"] == name and m.get("claims_key") and m.get("display_name")
    api = m["api"]
    assert api["base_url"].startswith("https://") and api["api_key_env"].endswith("_API_KEY") and api["model"]
    assert m["price"]["input_per_mtok"] > 0 and m["price"]["output_per_mtok"] > 0
    from harness.config import validate

    validate(cfg)
    resolve_profile(cfg["backend"], m)  # every key known, every value valid


def test_system_roles():
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert adapt_messages(msgs, "system") == msgs
    assert adapt_messages(msgs, "developer")[0]["role"] == "developer"
    assert adapt_messages(msgs, "user") == [{"role": "user", "content": "S\n\nU"}]
    assert msgs[1]["content"] == "U"  # not modified in place


def test_retry_after_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    when = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= parse_retry_after({"retry-after": format_datetime(when, usegmt=True)}) <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_split_tokens_keeps_the_total():
    assert split_tokens(10, ["aaaa", "a", ""]) == [7, 2, 1]
    assert sum(split_tokens(1001, ["x" * i for i in range(1, 8)])) == 1001


def test_bad_settings_name_the_key():
    with pytest.raises(ConfigError, match="backend.base_url"):
        backend_for(base_url="127.0.0.1:8000")
    with pytest.raises(ConfigError, match="backend.concurrency"):
        backend_for(concurrency=-1)
    with pytest.raises(ConfigError, match="backend.backoff"):
        backend_for(backoff={"bse": 1})


def test_missing_key_variable_is_a_config_error(monkeypatch):
    monkeypatch.delenv("HARNESS_TEST_NO_SUCH_KEY", raising=False)
    b = backend_for(api_key_env="HARNESS_TEST_NO_SUCH_KEY")
    with pytest.raises(ConfigError, match="HARNESS_TEST_NO_SUCH_KEY"):
        b.start()


# -- against the scripted server ------------------------------------------------------------------
def test_generate_records_text_reasoning_and_tokens(fake):
    fake.reasoning = True
    fake.answers = {"problem b": "2"}
    b = backend_for(fake)
    b.start()
    reqs = [req("a", samples=(0, 1, 2)), req("b", samples=(3,), seed=5)]
    out = sorted(b.generate(reqs), key=lambda c: (c.problem_id, c.sample))
    b.close()
    assert [(c.problem_id, c.sample) for c in out] == [("a", 0), ("a", 1), ("a", 2), ("b", 3)]
    assert "seed=1001" in out[1].text and "seed=5" in out[3].text and r"\boxed{2}" in out[3].text
    assert all(c.reasoning and c.reasoning.startswith("Let me think") for c in out)
    assert all(c.finish_reason == "stop" and c.prompt_tokens == 5 for c in out)
    # usage is per request: the three choices of "a" share its total, in proportion to their text
    hits = fake.chat_hits()
    assert len(hits) == 2 and {h.body.get("n") for h in hits} == {3, None}
    assert sum(c.output_tokens for c in out[:3]) == sum(len(c.text.split()) + j for j, c in enumerate(out[:3]))
    u = b.usage()
    assert u["requests"] == 2 and u["retries"] == 0 and u["errors"] == 0
    assert u["sent"]["temperature"] == 0.6 and u["served_by"] == {"tiny-llama": 2}
    assert b.info()["served_models"] == ["tiny-llama"]


def test_exact_per_choice_tokens_when_the_server_returns_token_ids(fake):
    fake.per_choice_usage = True
    b = backend_for(fake)
    b.start()
    out = sorted(b.generate([req("a", samples=(0, 1, 2))]), key=lambda c: c.sample)
    assert [c.output_tokens for c in out] == [len(c.text.split()) + j for j, c in enumerate(out)]


def test_completions_are_handed_back_as_they_finish(fake):
    """The first problem's call is held by the server; the others must come back before it."""
    fake.rule("problem slow", "hold")
    b = backend_for(fake, concurrency=2)
    b.start()
    gen = b.generate([req("slow", samples=(0,)), req("fast1", samples=(0,)), req("fast2", samples=(0,))])
    first, second = next(gen), next(gen)
    assert {first.problem_id, second.problem_id} == {"fast1", "fast2"}
    fake.release()
    rest = list(gen)
    assert [c.problem_id for c in rest] == ["slow"]


def test_at_most_concurrency_calls_in_flight(fake):
    fake.push(*["slow:0.05"] * 40)
    b = backend_for(fake, concurrency=3, n_per_request=False)
    b.start()
    out = list(b.generate([req(f"p{i}", samples=(0, 1)) for i in range(20)]))
    assert len(out) == 40 and len({(c.problem_id, c.sample) for c in out}) == 40
    assert 1 <= fake.max_in_flight <= 3


def test_the_key_comes_from_the_environment_and_is_sent(fake, monkeypatch):
    monkeypatch.setenv("HARNESS_TEST_KEY", "sk-test-abc123")
    b = backend_for(fake, api_key_env="HARNESS_TEST_KEY")
    b.start()
    list(b.generate([req("a", samples=(0,))]))
    assert {h.authorization for h in fake.hits} == {"Bearer sk-test-abc123"}
    assert "sk-test-abc123" not in repr(b.info()) + repr(b.usage())


def test_no_key_configured_sends_a_placeholder_not_the_users_openai_key(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leave")
    b = backend_for(fake)
    b.start()
    list(b.generate([req("a", samples=(0,))]))
    assert all("sk-should-not-leave" not in (h.authorization or "") for h in fake.hits)


def test_unknown_model_on_a_local_server_is_a_config_error(fake):
    fake.models = ["something-else"]
    with pytest.raises(ConfigError, match="serves \\['something-else'\\]"):
        backend_for(fake).start()


def test_nothing_listening_is_a_config_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match="nothing answers"):
        backend_for(None, base_url=f"http://127.0.0.1:{port}/v1", timeout=5).start()


def test_authentication_failure_stops_the_run(fake, monkeypatch):
    monkeypatch.setenv("HARNESS_TEST_KEY", "sk-test-wrong")
    fake.rule("problem", "echo_key:401")
    b = backend_for(fake, api_key_env="HARNESS_TEST_KEY", check_model=False)
    b.start()
    with pytest.raises(ConfigError, match="backend.api_key_env") as e:
        list(b.generate([req(f"p{i}", samples=(0,)) for i in range(5)]))
    assert "sk-test-wrong" not in str(e.value)
    assert b.usage()["retries"] == 0


def test_a_client_error_is_not_retried_and_becomes_errored_samples(fake):
    fake.rule("problem bad", "status:400")
    b = backend_for(fake)
    b.start()
    out = {(c.problem_id, c.sample): c for c in b.generate([req("bad", samples=(0, 1)), req("good", samples=(0,))])}
    assert out["bad", 0].finish_reason == "error" and out["bad", 0].text == ""
    assert out["bad", 0].error.startswith("client_errors: HTTP 400")
    assert out["good", 0].finish_reason == "stop"
    assert b.usage()["errors"] == 2 and b.usage()["retries"] == 0


def test_closing_the_generator_early_cancels_cleanly(fake):
    fake.rule("problem slow", "hold")
    b = backend_for(fake, concurrency=2)
    b.start()
    gen = b.generate([req("slow", samples=(0,)), req("fast", samples=(0,))])
    assert next(gen).problem_id == "fast"
    gen.close()  # e.g. Ctrl-C in the runner: the held call is cancelled, nothing hangs
    fake.release()
    assert threading.active_count() < 50
