"""`shell`: run a bash command in the workspace folder.

NOT A SANDBOX. The command runs as the user that runs agio, with that user's rights: it
starts in the workspace, but nothing stops it from `cd /` or reading any file that user can.
That is why `shell` asks for approval by default and why an agent with `shell` can only be
defined on the host, never over HTTP. What agio itself holds secret (AGIO_* settings, the
OpenAI key) is removed from the command's environment.

The command runs in a process group of its own; on timeout or cancel the whole group is
killed, background children included, and so are children still holding the output open
after the command itself exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from ._context import RunContext
from ._registry import ToolResult, tool_from_function

DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 600.0
MAX_OUTPUT_BYTES = 16 * 1024
# After the command exits, children that kept its output open get this long to finish.
LINGER_S = 0.5
EXIT_POLL_S = 0.01
_SECRET_NAMES = {"OPENAI_API_KEY"}


def command_environment() -> dict[str, str]:
    """This process's environment without agio's own settings and secrets."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AGIO_") and name not in _SECRET_NAMES
    }


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _exited(process: asyncio.subprocess.Process) -> None:
    """Until the command itself exits. Not `process.wait()`: that also waits for the end of
    its output, which a background child can hold open for as long as it likes."""
    while process.returncode is None:
        await asyncio.sleep(EXIT_POLL_S)


async def _read_capped(stream: asyncio.StreamReader, kept: bytearray) -> int:
    """Read to the end, keeping the first MAX_OUTPUT_BYTES; return how many bytes came."""
    total = 0
    while chunk := await stream.read(65536):
        total += len(chunk)
        room = MAX_OUTPUT_BYTES - len(kept)
        if room > 0:
            kept += chunk[:room]
    return total


async def shell(ctx: RunContext, command: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> ToolResult:
    """Run a bash command in this agent's workspace folder and return its exit code and output
    (stdout and stderr together). Not a sandbox: the command has the rights of agio's user.

    Args:
        command: The bash command line, e.g. "ls -la" or "python3 script.py".
        timeout_s: Seconds before the command (and everything it started) is killed.
    """
    if not command.strip():
        return ToolResult("the command is empty", is_error=True)
    timeout = min(max(timeout_s, 0.1), MAX_TIMEOUT_S)
    ctx.workspace.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        command,
        cwd=ctx.workspace,
        env=command_environment(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed as a whole
    )
    assert process.stdout is not None
    kept = bytearray()
    reader = asyncio.ensure_future(_read_capped(process.stdout, kept))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(_exited(process), timeout)
        except TimeoutError:
            timed_out = True
            _kill_group(process)
            await _exited(process)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), LINGER_S)
        _kill_group(process)  # whatever the command left running
        total = await reader
    except BaseException:  # cancelled: the run was cancelled or paused away
        _kill_group(process)
        reader.cancel()
        raise
    output = kept.decode("utf-8", errors="replace")
    if total > len(kept):
        output += f"\n[output truncated: first {len(kept)} of {total} bytes shown]"
    if timed_out:
        header = f"timed out after {timeout:g} s; the command and its children were killed"
        return ToolResult(f"{header}\n{output}".rstrip(), is_error=True)
    # A non-zero exit is an answer, not a failure of the tool: the model reads the code.
    code = process.returncode or 0
    header = f"exit code: {code}" if code >= 0 else f"killed by signal {-code}"
    return ToolResult(f"{header}\n{output}".rstrip())


SHELL_TOOL = tool_from_function(shell, default_policy="ask")
