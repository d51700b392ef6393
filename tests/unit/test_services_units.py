"""Unit tests of the services' logic: cognitive modules and core helpers (no servers, no
database; moved here from tests/services so that `nox -s unit` tests service logic)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import httpx
import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiwfe.cognitive.modules.learning import FeedbackRow, summarise, wilson_lower_bound
from aiwfe.cognitive.modules.perception import analyze, chunk_text, extract_entities, flatten
from aiwfe.cognitive.modules.reasoning import score_options
from aiwfe.cognitive.schemas import AnalyzeRequest, Criterion, DecideRequest, Option
from aiwfe.config_manager.store import is_secret_key, redact
from aiwfe.core import auth
from aiwfe.core.providers.embeddings import HashingEmbedding
from aiwfe.core.providers.llm import LocalExtractiveLLM, parse_fact_list
from aiwfe.core.settings import Settings
from aiwfe.core.workflow import WorkflowSpec

# ---- perception --------------------------------------------------------------------------


def test_chunks_respect_size_and_keep_sentences_whole() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    chunks = chunk_text(text, 120, 0)
    assert all(len(c.text) <= 120 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)
    assert " ".join(c.text for c in chunks) == text
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_chunk_overlap_repeats_trailing_sentences() -> None:
    text = " ".join(f"Fact {i} matters." for i in range(20))
    chunks = chunk_text(text, 80, 40)
    assert len(chunks) > 2
    for before, after in itertools.pairwise(chunks):
        first_sentence = after.text.split(". ")[0]
        assert before.text.endswith(first_sentence) or f"{first_sentence}." in before.text
        assert after.start < before.end  # the overlap repeats the tail of the previous chunk
        assert len(before.text) - before.text.index(first_sentence) <= 40 + 1
    assert chunk_text(text, 80, 0)[1].start >= chunk_text(text, 80, 0)[0].end


def test_overlong_words_are_hard_split() -> None:
    chunks = chunk_text("x" * 250, 100, 0)
    assert [len(c.text) for c in chunks] == [100, 100, 50]


@settings(max_examples=60, deadline=None, database=None)
@given(st.text(min_size=0, max_size=600), st.integers(50, 300), st.integers(0, 49))
def test_chunking_never_exceeds_size_and_terminates(text: str, size: int, overlap: int) -> None:
    chunks = chunk_text(text, size, overlap)
    assert all(len(c.text) <= size for c in chunks)


def test_entities_and_structured_input() -> None:
    result = analyze(
        AnalyzeRequest(
            text="Contact jane@corp.example by 2026-05-01. Budget is $1,500 (15% of Project Zeus).",
            data={"customer": {"name": "Ada Lovelace", "tier": 2}},
        )
    )
    found = {(e.type, e.value) for e in result.entities}
    assert ("email", "jane@corp.example") in found
    assert ("date", "2026-05-01") in found
    assert ("money", "$1,500") in found
    assert ("percent", "15%") in found
    assert ("name", "Project Zeus") in found
    assert "customer.name: Ada Lovelace" in result.normalised
    assert flatten({"b": [1, {"c": 2}], "a": 0}) == ["a: 0", "b[0]: 1", "b[1].c: 2"]


def test_sentence_initial_word_is_not_a_name() -> None:
    names = [
        e.value for e in extract_entities("Yesterday Bob met Alice Smith.") if e.type == "name"
    ]
    assert "Yesterday" not in names and "Alice Smith" in names


def test_analyze_needs_input() -> None:
    with pytest.raises(ValueError, match="give `text` or `data`"):
        AnalyzeRequest()


# ---- reasoning ----------------------------------------------------------------------------


def test_weighted_scoring_with_min_and_max_goals() -> None:
    options = [
        Option(name="a", scores={"cost": 100, "speed": 10}),
        Option(name="b", scores={"cost": 50, "speed": 5}),
        Option(name="c", scores={"cost": 75}),
    ]
    criteria = [Criterion(name="cost", weight=1, goal="min"), Criterion(name="speed", weight=1)]
    ranked = score_options(options, criteria, "")
    scores = {name: score for name, score, _ in ranked}
    assert scores == {"a": 0.5, "b": 0.5, "c": 0.25}  # missing speed counts as worst
    assert [r[0] for r in ranked] == ["a", "b", "c"]  # ties broken by name
    heavy = score_options(
        options, [Criterion(name="cost", weight=9, goal="min"), Criterion(name="speed")], ""
    )
    assert heavy[0][0] == "b"


def test_scoring_without_criteria_uses_relevance() -> None:
    options = [
        Option(name="postgres", description="relational database with transactions"),
        Option(name="redis", description="in-memory cache"),
    ]
    ranked = score_options(options, [], "Which database gives transactions?")
    assert ranked[0][0] == "postgres" and ranked[0][1] > ranked[1][1]


def test_decide_request_rejects_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="unknown criteria"):
        DecideRequest(
            question="q",
            options=[{"name": "a", "scores": {"x": 1}}, {"name": "b"}],
            criteria=[{"name": "y"}],
        )
    with pytest.raises(ValueError, match="unique"):
        DecideRequest(question="q", options=[{"name": "a"}, {"name": "a"}])


# ---- learning -----------------------------------------------------------------------------


def test_wilson_bound_is_conservative_for_small_samples() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    small, large = wilson_lower_bound(1, 1), wilson_lower_bound(100, 100)
    assert 0 < small < large < 1
    assert wilson_lower_bound(50, 100) == pytest.approx(0.4038, abs=1e-3)


def test_summary_counts_rates_and_failure_patterns() -> None:
    rows = [
        FeedbackRow("deploy", "success", 5, ("fast",)),
        FeedbackRow("deploy", "failure", 1, ("flaky-net",)),
        FeedbackRow("deploy", "partial", None, ("flaky-net",)),
        FeedbackRow("report", "success", 4, ()),
    ]
    summary = summarise(rows)
    assert summary["total"] == 4
    assert summary["by_outcome"] == {"failure": 1, "partial": 1, "success": 2}
    assert summary["success_rate"] == pytest.approx(2.5 / 4)
    deploy = summary["subjects"][0]
    assert deploy["subject"] == "deploy" and deploy["count"] == 3
    assert deploy["success_rate"] == pytest.approx(0.5) and deploy["mean_rating"] == 3.0
    assert summary["failure_patterns"] == [{"tag": "flaky-net", "count": 2, "failure_rate": 0.5}]


# ---- providers ----------------------------------------------------------------------------


def test_fallback_llm_is_extractive_and_deterministic() -> None:
    llm = LocalExtractiveLLM()
    text = "The cache is Redis. Is it fast? Postgres stores the runs. Postgres stores the runs."
    facts = asyncio.run(llm.extract_facts(text))
    assert facts == ["The cache is Redis.", "Postgres stores the runs."]  # no questions, deduped
    prompt = "Redis caches sessions.\nPostgres keeps workflow runs durable.\nWhere are runs kept?"
    first = asyncio.run(llm.generate(prompt))
    assert first == asyncio.run(llm.generate(prompt))
    assert "Postgres keeps workflow runs durable." in first
    for sentence in first.split(". "):  # every sentence comes from the input
        assert sentence.rstrip(".") in prompt


def test_fact_list_parsing_tolerates_prose_and_bullets() -> None:
    assert parse_fact_list('Sure! ["a fact", "another"] hope it helps', 5) == ["a fact", "another"]
    assert parse_fact_list("- first fact\n2. second fact", 5) == ["first fact", "second fact"]


def test_hashing_embedding_is_deterministic_normalised_and_lexical() -> None:
    emb = HashingEmbedding(256)
    a = emb.vector("Postgres stores workflow runs")
    assert a == HashingEmbedding(256).vector("Postgres stores workflow runs")
    assert sum(x * x for x in a) == pytest.approx(1.0)
    near = emb.vector("workflow runs are stored in Postgres")
    far = emb.vector("bananas grow in tropical climates")

    def cos(u: list[float], v: list[float]) -> float:
        return sum(x * y for x, y in zip(u, v, strict=True))

    assert cos(a, near) > cos(a, far) + 0.2
    assert emb.vector("") == [0.0] * 256


# ---- settings, auth, config ---------------------------------------------------------------


def test_database_url_quotes_credentials() -> None:
    settings = Settings(db_user="u@x", db_password="p@ss:/w%rd", db_host="db", db_name="n")
    url = settings.database_url()
    assert url.password == "p@ss:/w%rd"
    rendered = url.render_as_string(hide_password=False)
    assert "p%40ss%3A%2Fw%25rd" in rendered and rendered.startswith("postgresql+asyncpg://u%40x:")
    redis = Settings(redis_password="a/b@c", redis_db=3).redis_url()
    assert redis == "redis://:a%2Fb%40c@localhost:6379/3"


def test_split_mode_module_urls() -> None:
    split = Settings(
        cognitive_mode="split", cognitive_memory_url="http://mem:8081/", cognitive_url="http://c"
    )
    assert split.module_url("memory") == "http://mem:8081"
    assert split.module_url("reasoning") == "http://c"
    assert Settings(cognitive_memory_url="http://mem").module_url("memory") == (
        "http://localhost:8081"
    )


def test_tokens_round_trip_and_reject_tampering() -> None:
    who = auth.Principal(uuid.uuid4(), "ada", True)
    key = auth.SigningKey.generate()
    keys = auth.KeySet.of([key.public_key()])
    token = auth.issue_token(who, key, 60, "aiwfe")
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}
    assert auth.decode_token(token, keys, "aiwfe") == who
    with pytest.raises(auth.TokenError, match="unknown key"):
        auth.decode_token(token, auth.KeySet.of([auth.SigningKey.generate().public_key()]), "aiwfe")
    with pytest.raises(auth.TokenError, match="issuer"):
        auth.decode_token(token, keys, "another-issuer")
    claims = {"typ": "user", "sub": "ada", "uid": str(who.user_id), "iss": "aiwfe", "iat": 1}
    expired = jwt.encode(
        {**claims, "exp": int(time.time()) - 5},
        key.private_key,
        algorithm="EdDSA",
        headers={"kid": key.kid},
    )
    with pytest.raises(auth.TokenError, match="expired"):
        auth.decode_token(expired, keys, "aiwfe")
    unsigned = jwt.encode({"sub": "ada"}, key=None, algorithm="none", headers={"kid": key.kid})
    with pytest.raises(auth.TokenError):
        auth.decode_token(unsigned, keys, "aiwfe")
    # The kid is the key's RFC 7638 thumbprint: the same on every component, by construction.
    assert key.kid == auth.key_id(auth.public_keys_from_pem(key.public_pem())[0])


def test_service_keys_speak_only_for_their_service() -> None:
    gateway, worker = auth.SigningKey.generate(), auth.SigningKey.generate()
    keys = auth.KeySet.of([gateway.public_key()], {"task-processor": [worker.public_key()]})
    mine = auth.issue_service_token("task-processor", worker, "aiwfe")
    assert auth.decode_any(mine, keys, "aiwfe") == auth.Service("task-processor")
    with pytest.raises(auth.TokenError, match="only sign for service 'task-processor'"):
        auth.decode_any(auth.issue_service_token("api-gateway", worker, "aiwfe"), keys, "aiwfe")
    admin = auth.Principal(uuid.uuid4(), "root", True)
    with pytest.raises(auth.TokenError, match="cannot sign user tokens"):
        auth.decode_any(auth.issue_token(admin, worker, 60, "aiwfe"), keys, "aiwfe")
    # The gateway's key signs for any component, but a service token is never a user.
    gateway_call = auth.issue_service_token("api-gateway", gateway, "aiwfe")
    assert auth.decode_any(gateway_call, keys, "aiwfe") == auth.Service("api-gateway")
    with pytest.raises(auth.TokenError, match="service token cannot act as a user"):
        auth.decode_token(gateway_call, keys, "aiwfe")


def test_bearer_auth_adds_a_token_but_keeps_a_forwarded_one() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200)

    with httpx.Client(
        transport=httpx.MockTransport(handler), auth=auth.BearerAuth(lambda: "service")
    ) as client:
        client.get("http://config/v1/flags")
        client.put("http://config/v1/flags/x", headers={"Authorization": "Bearer user"})
    assert seen == ["Bearer service", "Bearer user"]


def test_password_hashing() -> None:
    hashed = auth.hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert auth.verify_password(hashed, "correct horse")
    assert not auth.verify_password(hashed, "wrong")
    assert not auth.verify_password(None, "anything")
    assert not auth.verify_password("not-a-hash", "x")


def test_config_never_serves_secrets() -> None:
    assert is_secret_key("db_password") and is_secret_key("API_KEY") and is_secret_key("token")
    assert not is_secret_key("page_size")
    assert redact({"a": 1, "nested": {"secret": "x", "ok": [{"password": 1, "b": 2}]}}) == {
        "a": 1,
        "nested": {"ok": [{"b": 2}]},
    }


def test_workflow_spec_validation() -> None:
    spec = WorkflowSpec(name=" x ", steps=[{"type": "perceive"}])
    assert spec.name == "x" and spec.steps[0].retries == 2
    with pytest.raises(ValueError):
        WorkflowSpec(name="x", steps=[])
    with pytest.raises(ValueError):
        WorkflowSpec(name="x", steps=[{"type": "rm -rf"}])


def test_outgoing_headers_carry_request_id_and_trace_context() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    from aiwfe.core.telemetry import outgoing_headers, request_id_var

    token = request_id_var.set("rid-1")
    try:
        tracer = TracerProvider().get_tracer("test")
        with tracer.start_as_current_span("incoming") as span:
            headers = outgoing_headers()
            trace_id = format(span.get_span_context().trace_id, "032x")
        assert headers["X-Request-ID"] == "rid-1"
        assert headers["traceparent"].split("-")[1] == trace_id
    finally:
        request_id_var.reset(token)
    assert "X-Request-ID" not in outgoing_headers()


def test_unavailable_reasons_are_told_apart_from_failures() -> None:
    import httpx
    from sqlalchemy.exc import OperationalError

    from aiwfe.cognitive.server import unavailable_reason

    db_down = OperationalError("SELECT 1", {}, ConnectionRefusedError())
    assert "database" in unavailable_reason(db_down)
    assert "model server" in unavailable_reason(httpx.ConnectError("refused"))
    assert "backing service" in unavailable_reason(ConnectionError("ollama down"))
    assert unavailable_reason(ValueError("bug")) is None
    assert unavailable_reason(KeyError("bug")) is None


# ---- coordination -------------------------------------------------------------------------


class ScriptedTransport:
    """A Transport whose answers are scripted: errors to raise, delays, then a result."""

    def __init__(self, script: list) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, str, dict]] = []

    async def call(self, module, op, payload, *, http_timeout=None):
        self.calls.append((module, op, payload))
        item = self.script.pop(0)
        if isinstance(item, float):
            await asyncio.sleep(item)
            return {"slow": True}
        if isinstance(item, Exception):
            raise item
        return item

    async def close(self) -> None:
        return None


def coordination(script: list):
    from aiwfe.cognitive.engine import Engine

    engine = Engine(Settings(llm_provider="local"))
    module = engine.modules["coordination"]
    transport = ScriptedTransport(script)
    module.transport = transport
    return module, transport


def test_step_retries_transient_errors_with_backoff() -> None:
    from aiwfe.cognitive.base import CognitiveError

    module, transport = coordination(
        [CognitiveError(503, "down"), CognitiveError(502, "bad gw"), {"ok": 1}]
    )
    result = asyncio.run(
        module.handle(
            "execute_step",
            {
                "type": "recall",
                "params": {"query": "q"},
                "input": {"namespace": "ns", "text": "t"},
                "retries": 2,
                "backoff_s": 0.01,
            },
        )
    )
    assert result["attempts"] == 3 and result["output"] == {"ok": 1}
    # params win over the run input; input fills in only fields the operation has
    assert transport.calls[0] == ("memory", "recall", {"namespace": "ns", "query": "q"})


def test_step_gives_up_and_does_not_retry_refusals() -> None:
    from aiwfe.cognitive.base import CognitiveError

    module, _ = coordination([CognitiveError(503, "down")] * 2)
    with pytest.raises(CognitiveError) as err:
        asyncio.run(
            module.handle(
                "execute_step",
                {"type": "perceive", "retries": 1, "backoff_s": 0, "input": {"text": "x"}},
            )
        )
    assert err.value.status == 503
    module, transport = coordination([CognitiveError(422, "bad"), {"never": 1}])
    with pytest.raises(CognitiveError) as err:
        asyncio.run(module.handle("execute_step", {"type": "perceive", "retries": 3}))
    assert err.value.status == 422 and len(transport.calls) == 1


def test_step_timeout_is_a_504_after_retries() -> None:
    from aiwfe.cognitive.base import CognitiveError

    module, transport = coordination([1.0, 1.0])
    with pytest.raises(CognitiveError) as err:
        asyncio.run(
            module.handle(
                "execute_step",
                {"type": "perceive", "timeout_s": 0.05, "retries": 1, "backoff_s": 0},
            )
        )
    assert err.value.status == 504 and "timed out" in str(err.value.detail)
    assert len(transport.calls) == 2
