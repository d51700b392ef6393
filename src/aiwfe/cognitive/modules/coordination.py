"""Coordination: runs one workflow step on the module that owns it, with a timeout and retries
(exponential backoff) for transient failures; plus the two built-in steps (generate, wait)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiwfe.cognitive.base import CognitiveError, Module, Request, Transport
from aiwfe.cognitive.resources import Resources
from aiwfe.cognitive.schemas import (
    ExecuteStepRequest,
    ExecuteStepResponse,
    GenerateRequest,
    WaitRequest,
)
from aiwfe.core.workflow import STEP_TARGETS


def step_payload(model: type[Request], params: dict[str, Any], run_input: dict[str, Any]) -> dict:
    """A step's request: the run input fills in any field the step's params leave out."""
    fields = model.model_fields
    payload = {k: v for k, v in run_input.items() if k in fields}
    payload.update(params)
    return payload


class CoordinationModule(Module):
    name = "coordination"

    def __init__(self, resources: Resources, transport: Transport, registry: dict) -> None:
        super().__init__()
        self.resources = resources
        self.transport = transport
        self.registry = registry  # module name -> request models per op (for step payloads)
        self.op("execute_step", ExecuteStepRequest, self.execute_step)
        self.op("generate", GenerateRequest, self.generate)
        self.op("wait", WaitRequest, self.wait)

    async def generate(self, request: GenerateRequest) -> dict[str, Any]:
        text = await self.resources.llm.generate(request.prompt, system=request.system)
        return {"text": text, "provider": self.resources.llm.name}

    async def wait(self, request: WaitRequest) -> dict[str, Any]:
        await asyncio.sleep(request.seconds)
        return {"waited_s": request.seconds}

    async def execute_step(self, request: ExecuteStepRequest) -> ExecuteStepResponse:
        module, op = STEP_TARGETS[request.type]
        model = self.registry[module][op]
        payload = step_payload(model, request.params, request.input)
        payload.pop("owner", None)  # the run's owner, never one from params or input
        if request.owner and "owner" in model.model_fields:
            payload["owner"] = str(request.owner)
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                output = await asyncio.wait_for(
                    self.transport.call(module, op, payload, http_timeout=request.timeout_s + 5),
                    timeout=request.timeout_s,
                )
                break
            except TimeoutError as exc:
                error: CognitiveError = CognitiveError(
                    504, f"step {request.type} timed out after {request.timeout_s}s"
                )
                error.__cause__ = exc
            except CognitiveError as exc:
                if not exc.transient:
                    raise
                error = exc
            if attempt > request.retries:
                raise error
            await asyncio.sleep(request.backoff_s * 2 ** (attempt - 1))
        return ExecuteStepResponse(
            type=request.type,
            module=module,
            op=op,
            attempts=attempt,
            duration_s=round(time.perf_counter() - started, 6),
            output=output,
        )

    async def ready(self) -> None:
        return None
