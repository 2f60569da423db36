"""A step's model call: the request, its streamed text as events, the response it ends with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ._runstate import RunState
from .errors import ProviderError
from .events import ContentDelta, StepDiscarded, StepStarted, Usage
from .providers import ModelRequest, ModelResponse, StreamPart, TextDelta


class ModelStep(RunState):
    """One model call per step: `_start_step`, `_stream`, then `_take_response` or, if a
    pause cut the stream, `_discard_step` (the step is then void: see SPEC §4)."""

    async def _start_step(self, model_name: str, tools: list[dict[str, Any]]) -> ModelRequest:
        self.step += 1
        self.run.metrics.steps += 1
        self.run.finish_reason = None  # a step that fails has no finish reason
        self.partial = []
        await self.log.emit(StepStarted(**self.log.envelope(), step=self.step))
        return ModelRequest(
            model=model_name,
            messages=self.messages,
            tools=tools,
            params=self.agent.model_params,
        )

    async def _stream(self, parts: AsyncIterator[StreamPart]) -> ModelResponse:
        response: ModelResponse | None = None
        async for part in parts:
            match part:
                case TextDelta(content=content):
                    if self.run.metrics.first_token_ms is None:
                        self.run.metrics.first_token_ms = self._elapsed_ms()
                    self.partial.append(content)
                    # Per token: built without re-validating (see `ContentDelta.trusted`).
                    await self.log.emit(
                        ContentDelta.trusted(self.log.envelope(), content, self.step)
                    )
                case ModelResponse():
                    response = part
        if response is None:
            raise ProviderError("the model stream ended without a response", "stream_error")
        return response

    async def _discard_step(self) -> None:
        await self.log.emit(StepDiscarded(**self.log.envelope(), step=self.step, reason="paused"))
        # The state is as before the step, which resuming does again.
        self.step -= 1
        self.run.metrics.steps -= 1
        self.partial = []

    async def _take_response(self, response: ModelResponse) -> None:
        self.messages.append(response.to_message())
        # Kept on the run, so a run paused or interrupted after its answer still says, once
        # completed, why that answer ended.
        self.run.finish_reason = response.finish_reason
        usage = response.usage
        self.run.metrics.add_usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
        await self.log.emit(
            Usage(
                **self.log.envelope(),
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                total_tokens=usage.total_tokens,
                step=self.step,
            )
        )
