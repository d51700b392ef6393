"""The bench's workload: the seeded memories, the mixed request set (memory search,
decisions, workflow creation) and the workflow steps through coordination, plus logging in,
seeding and a sanity check that every call of the mix answers."""

from __future__ import annotations

import asyncio

from ci.bench.load import Call, fetch

NAMESPACE = "bench"
ADMIN = "bench-admin"

SEED_TEXTS = [
    "PostgreSQL stores the workflow runs. Redis is the Celery broker. "
    "pgvector indexes memory embeddings with cosine distance.",
    "The gateway issues JWT tokens after login. Tokens expire after one hour. "
    "Rate limiting protects the login endpoint.",
    "Kubernetes schedules the cognitive services pod. The Helm chart sets resource limits. "
    "Horizontal pod autoscaling follows queue depth.",
    "The budget for the cloud migration is two million euros. The migration must finish "
    "before the third quarter. Vendor A offers the lowest price.",
    "Vendor B has the best support record. Vendor C has the fastest delivery time. "
    "Security reviews take two weeks per vendor.",
    "Ollama serves the language model on a GPU node. The local fallback needs no model. "
    "Embeddings have 384 dimensions.",
]
SEARCHES = [
    "which vendor has the best support",
    "how are embeddings stored",
    "when do tokens expire",
    "what is the migration budget",
]
DECISIONS = [
    {
        "question": "Which vendor should run the cloud migration?",
        "options": [
            {"name": "vendor-a", "description": "lowest price", "scores": {"cost": 2, "speed": 5}},
            {"name": "vendor-b", "description": "best support", "scores": {"cost": 4, "speed": 6}},
            {"name": "vendor-c", "description": "fast delivery", "scores": {"cost": 5, "speed": 9}},
        ],
        "criteria": [
            {"name": "cost", "weight": 2, "goal": "min"},
            {"name": "speed", "weight": 1, "goal": "max"},
        ],
    },
    {
        "question": "Where should the vector index live?",
        "options": [
            {"name": "pgvector", "description": "inside PostgreSQL with cosine distance"},
            {"name": "qdrant", "description": "a separate vector database service"},
        ],
    },
]


def mixed_calls() -> list[Call]:
    """The mixed authenticated workload: memory search, decision analysis, workflow create,
    in equal shares, interleaved (each cycle of three holds one of each)."""
    calls: list[Call] = []
    for i in range(max(len(SEARCHES), len(DECISIONS))):
        calls.append(
            Call(
                "memory_search",
                "POST",
                "/api/v1/memory/search",
                {"query": SEARCHES[i % len(SEARCHES)], "namespace": NAMESPACE, "limit": 5},
                expect=(200,),
            )
        )
        calls.append(
            Call(
                "decision",
                "POST",
                "/api/v1/decisions",
                {**DECISIONS[i % len(DECISIONS)], "namespace": NAMESPACE, "use_memory": True},
                expect=(200,),
            )
        )
        calls.append(
            Call(
                "workflow_create",
                "POST",
                "/api/v1/workflows",
                {
                    "name": f"bench-{i}",
                    "steps": [{"type": "recall", "params": {"query": SEARCHES[i % 4]}}],
                    "input": {"bench": True},
                },
                expect=(201,),
            )
        )
    return calls


def step_calls() -> list[Call]:
    """What the worker sends for each workflow step: coordination.execute_step, which runs the
    step on the module that owns it (in-process when consolidated, over HTTP when split)."""
    steps = [
        ("recall", {"query": SEARCHES[0], "namespace": NAMESPACE, "limit": 5}),
        ("decide", {**DECISIONS[0], "namespace": NAMESPACE, "use_memory": True}),
        ("perceive", {"text": SEED_TEXTS[3] + " " + SEED_TEXTS[4]}),
    ]
    return [
        Call(
            f"step_{kind}",
            "POST",
            "/v1/coordination/execute_step",
            {"type": kind, "params": params, "retries": 0},
            expect=(200,),
        )
        for kind, params in steps
    ]


def login(port: int, password: str) -> str:
    status, body = asyncio.run(
        fetch(
            port,
            Call("login", "POST", "/api/v1/auth/login", {"username": ADMIN, "password": password}),
        )
    )
    if status != 200:
        raise RuntimeError(f"login failed: HTTP {status} {body}")
    return body["access_token"]


def seed(port: int, token: str) -> int:
    """Store the seed memories (idempotent: fact ids are content-derived)."""
    stored = 0
    for text in SEED_TEXTS:
        status, body = asyncio.run(
            fetch(
                port,
                Call(
                    "ingest",
                    "POST",
                    "/api/v1/memory/ingest",
                    {"text": text, "namespace": NAMESPACE, "tags": ["bench"]},
                ),
                {"Authorization": f"Bearer {token}"},
            )
        )
        if status != 200:
            raise RuntimeError(f"seeding memory failed: HTTP {status} {body}")
        stored += len(body["facts"])
    return stored


def check_mixed(port: int, token: str) -> None:
    """Every call of the mixed workload must succeed once before anything is measured."""
    auth = {"Authorization": f"Bearer {token}"}
    for call in mixed_calls()[:3]:
        status, body = asyncio.run(fetch(port, call, auth))
        if status not in call.expect:
            raise RuntimeError(f"{call.name} answered HTTP {status}: {str(body)[:500]}")
        if call.name == "decision" and body.get("memories_used", 0) < 1:
            raise RuntimeError(f"decision used no memories (seeding failed?): {body}")
