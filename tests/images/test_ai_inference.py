"""aiwfe/ai-inference: `pull` registers the bundled tiny GGUF model, `serve` answers and
generates with it, `check` gates readiness; without Ollama every role fails clearly."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from image_helpers import image_of, run, wait_http

MODEL = "aiwfe-tiny"


def test_bundled_test_model_is_a_gguf_file(docker, images):
    tag = image_of(images, "ai-inference").tag
    folder = f"/opt/aiwfe/models/{MODEL}"
    script = f"head -c 4 {folder}/model.gguf; echo; cat {folder}/Modelfile"
    proc = run(docker, "run", "--rm", "--entrypoint", "sh", tag, "-c", script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("GGUF")
    assert "FROM ./model.gguf" in proc.stdout


@pytest.mark.slow
def test_pull_serve_check_and_generate(docker, images, containers):
    image = image_of(images, "ai-inference")
    if "ollama" in image.missing:
        for role in ("serve", "pull", "check"):
            proc = run(docker, "run", "--rm", "-e", f"AIWFE_MODELS={MODEL}", image.tag, role)
            assert proc.returncode == 78, proc.stderr
            assert "needs Ollama, which this image was built without" in proc.stderr
        return
    models = containers.volume("models")
    volume = ("-v", f"{models}:/models", "-e", f"AIWFE_MODELS={MODEL}")
    pull = run(
        docker, "run", "--rm", "--read-only", "--tmpfs", "/tmp", *volume, image.tag, "pull",
        timeout=300,
    )  # fmt: skip
    assert pull.returncode == 0, pull.stdout + pull.stderr
    assert f"{MODEL}:latest" in pull.stdout

    containers.start("ollama", image.tag, "serve", opts=volume)
    base = f"http://{containers.ip('ollama')}:11434"
    wait_http(base + "/", 60, containers=containers, name="ollama")
    check = run(docker, "exec", f"{containers.prefix}-ollama", "aiwfe-entrypoint", "check")
    assert check.returncode == 0, check.stderr

    request = urllib.request.Request(  # noqa: S310 - http URL built above
        base + "/api/generate",
        data=json.dumps(
            {"model": MODEL, "prompt": "hello workflow", "stream": False,
             "options": {"num_predict": 8}}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=240) as response:  # noqa: S310 - test URL
        answer = json.loads(response.read())
    assert answer["done"] is True
    assert answer["eval_count"] >= 1
    assert isinstance(answer["response"], str)
    assert time.monotonic() - started < 240

    # Embeddings through the same model: 64 wide, the test model's embedding length.
    request = urllib.request.Request(  # noqa: S310 - http URL built above
        base + "/api/embed",
        data=json.dumps({"model": MODEL, "input": "hello workflow"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - test URL
        vectors = json.loads(response.read())["embeddings"]
    assert len(vectors) == 1 and len(vectors[0]) == 64


def test_check_fails_when_a_model_is_missing(docker, images, containers):
    image = image_of(images, "ai-inference")
    if "ollama" in image.missing:
        pytest.skip("covered by test_pull_serve_check_and_generate: Ollama is absent")
    models = containers.volume("models")
    opts = ("-v", f"{models}:/models", "-e", "AIWFE_MODELS=not-pulled-model")
    containers.start("ollama", image.tag, "serve", opts=opts)
    wait_http(f"http://{containers.ip('ollama')}:11434/", 60, containers=containers, name="ollama")
    check = run(docker, "exec", f"{containers.prefix}-ollama", "aiwfe-entrypoint", "check")
    assert check.returncode == 1
    assert "models missing: not-pulled-model" in check.stderr
