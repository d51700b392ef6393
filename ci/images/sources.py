"""Running the builds: `docker build` into a log per image, the third-party programs built
from source in parallel beforehand, and how their outcomes shape each image's result."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ci import proc, progress
from ci.images.plan import Build, degraded_allowed, parts
from ci.paths import logs_dir
from ci.proc import echo

CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")

# --------------------------------------------------------------------------------------------
# build


def ca_bundle() -> str | None:
    for candidate in (os.environ.get("SSL_CERT_FILE"), *CA_BUNDLES):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def docker_client() -> Path:
    from ci.env.docker_engine import ensure_engine

    return ensure_engine().path


def docker_build(
    docker: Path,
    build: Build,
    log: Path,
    extra: list[str],
    timeout: float | None = None,
    step: tuple[str, str, int, int] | None = None,
) -> tuple[int, float]:
    """Run one BuildKit build (niced, log to file); returns (exit code, seconds).
    `step` = (label, key, k, n) shows its progress (ci/progress.py)."""
    cmd = [str(docker), "build", "--progress=plain", "-f", str(build.dockerfile), *extra]
    for key, value in build.args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    bundle = ca_bundle()
    if bundle:
        cmd += ["--secret", f"id=ca-bundle,src={bundle}"]
    cmd.append(str(build.context))
    env = dict(os.environ, DOCKER_BUILDKIT="1")
    started = time.monotonic()
    label, key, k, n = step or (f"docker build {build.tag}", f"image-{build.name}", 1, 1)
    with log.open("w") as handle, progress.step(label, key=key, k=k, n=n):
        handle.write("$ " + " ".join(cmd) + "\n")
        handle.flush()
        try:
            code = proc.run(
                ["nice", "-n", "10", *cmd],
                stdout=handle,
                stderr=proc.STDOUT,
                env=env,
                check=False,
                quiet=True,
                timeout=timeout,
            ).returncode
        except proc.TimeoutExpired:
            handle.write(f"\n[aiwfe] timed out after {timeout:.0f}s\n")
            code = 124
    return code, round(time.monotonic() - started, 1)


def source_build_timeout() -> float:
    return float(os.environ.get("AIWFE_SOURCE_BUILD_TIMEOUT", "5400"))


def source_jobs() -> int:
    return max(1, int(os.environ.get("AIWFE_SOURCE_BUILD_JOBS", "3")))


def build_sources(docker: Path, builds: list[Build]) -> Callable[[], dict[str, dict[str, float]]]:
    """Start the source builds in the background; returns a function that waits for them
    and returns {image: {part: seconds}}.

    Air-gapped: build every program's from-source stage first, several at once (they are
    independent and mostly waiting on one another's compilers). A stage that fails or runs out
    of time fails its image (and the tier) unless degraded images are allowed (see
    degraded_allowed): then it is switched to its `<part>-unavailable` stage and recorded
    with the reason, so its image still builds with everything else and says what it lacks."""
    jobs = [(build, part, stage) for build in builds for part, stage in build.source_parts.items()]
    if not jobs:
        return dict

    def one(job: tuple[Build, str, str]) -> tuple[int, float, Path]:
        build, part, stage = job
        log = logs_dir() / f"image-{build.name}-{part}.log"
        echo(f"building {part} from source for {build.name} (stage {stage}; log: {log})")
        k = jobs.index(job) + 1
        step = (f"source build of {part}", f"source-{part}", k, len(jobs))
        code, took = docker_build(
            docker, build, log, ["--target", stage], timeout=source_build_timeout(), step=step
        )
        echo(f"{part}: {'built' if code == 0 else 'FAILED'} from source in {took:.0f}s")
        return code, took, log

    pool = ThreadPoolExecutor(max_workers=source_jobs())
    futures = [pool.submit(one, job) for job in jobs]
    pool.shutdown(wait=False)

    def collect() -> dict[str, dict[str, float]]:
        return _apply_source_outcomes(jobs, [f.result() for f in futures])

    return collect


def _apply_source_outcomes(
    jobs: list[tuple[Build, str, str]],
    outcomes: list[tuple[int, float, Path]],
    policy: tuple[bool, str] | None = None,
) -> dict[str, dict[str, float]]:
    allowed, policy_why = degraded_allowed() if policy is None else policy
    seconds: dict[str, dict[str, float]] = {}
    for (build, part, _stage), (code, took, log) in zip(jobs, outcomes, strict=True):
        seconds.setdefault(build.name, {})[part] = took
        if code == 0:
            continue
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()] or lines
        why = "did not finish in time" if code == 124 else f"failed: {errors[-1].strip()[:300]}"
        why = f"air-gapped source build {why} (log: {log})"
        if not allowed:
            build.failed_parts[part] = f"{why}; {policy_why}"
            echo(f"{part}: {build.failed_parts[part]}")
            continue
        arg = next(p.build_arg for p in parts() if p.name == part)
        build.args[arg] = f"{part}-unavailable"
        del build.source_parts[part]
        build.missing_parts[part] = why
        echo(f"{part}: {why}; {policy_why}")
    return seconds


def failed_source_result(build: Build, mode: str, source_seconds: dict[str, float]) -> dict:
    """The report entry of an image not built because a source build of it failed."""
    return {
        "image": build.tag,
        "name": build.name,
        "mode": mode,
        "seconds": None,
        "status": "failed",
        "missing_parts": build.missing_parts,
        "failed_parts": build.failed_parts,
        "source_seconds": source_seconds,
        "error_tail": [f"{part}: {why}" for part, why in build.failed_parts.items()],
    }


def build_one(
    docker: Path,
    build: Build,
    mode: str,
    source_seconds: dict[str, float] | None = None,
    k: int = 1,
    n: int = 1,
) -> dict:
    started = time.monotonic()
    source_seconds = source_seconds or {}
    log = logs_dir() / f"image-{build.name}.log"
    echo(f"building {build.tag} ({mode}; log: {log})")
    extra = ["-t", build.tag, "--label", f"io.aiwfe.source-mode={mode}"]
    for part in build.missing_parts:
        extra += ["--label", f"io.aiwfe.missing.{part}=not buildable {mode}"]
    step = (f"image {build.tag}", f"image-{build.name}-{mode}", k, n)
    code, _ = docker_build(docker, build, log, extra, step=step)
    seconds = round(time.monotonic() - started, 1)
    result = {
        "image": build.tag,
        "name": build.name,
        "mode": mode,
        "seconds": seconds,
        "status": "built" if code == 0 else "failed",
        "log": str(log),
        "missing_parts": build.missing_parts,
        "built_from_source": sorted(build.source_parts),
        "source_seconds": source_seconds,  # wall time of each source stage (run in parallel)
        "build_args": build.args,
    }
    if code == 0:
        result["size_bytes"] = image_size(docker, build.tag)
    else:
        tail = proc.log_tail(log, 25).splitlines()
        result["error_tail"] = tail
        echo(f"FAILED {build.tag} after {seconds}s; last lines of {log}:\n" + "\n".join(tail))
    return result


def image_size(docker: Path, ref: str) -> int:
    out = proc.run(
        [docker, "image", "inspect", "--format", "{{.Size}}", ref], capture=True, quiet=True
    ).stdout
    return int(out.strip())
