"""What only `RemoteAgio` does: API keys and an unreachable server. What it shares with the
embedded `Agio` is tested on both by tests/facade."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import API_KEY
from helpers.servers import Server, free_port

from agio_cli.remote import AuthenticationError, RemoteAgio, ServerError, error_for
from agio_core.errors import ERROR_OF_KIND, HTTP_STATUS, InvalidInputError, StoreError


async def test_auth_errors_are_clear(auth_server: Server) -> None:
    async with RemoteAgio(auth_server.url) as anonymous:
        with pytest.raises(AuthenticationError, match="AGIO_API_KEY"):
            await anonymous.list_agents()
    async with RemoteAgio(auth_server.url, api_key="wrong") as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.list_runs()
    async with RemoteAgio(auth_server.url, api_key=API_KEY) as keyed:
        assert (await keyed.get_agent("assistant")).id == "assistant"
        handle = await keyed.start_chat("assistant", "What is 1+1?")
        assert (await handle.wait()).status == "completed"


async def test_an_unreachable_server_is_a_clear_error() -> None:
    async with RemoteAgio(f"http://127.0.0.1:{free_port()}") as nowhere:
        with pytest.raises(ServerError, match="cannot reach"):
            await nowhere.list_agents()


@pytest.mark.parametrize("kind", sorted(HTTP_STATUS))
def test_each_error_comes_back_as_the_exception_the_core_raised(kind: str) -> None:
    """One table both ways: the status the API answers for a kind maps back to its class."""
    raised = ERROR_OF_KIND[kind]("what went wrong")
    answer = httpx.Response(HTTP_STATUS[raised.kind], json={"detail": raised.message})
    back = error_for(answer, "http://127.0.0.1:1")
    assert type(back) is (ServerError if kind == "store" else type(raised))
    assert isinstance(back, type(raised)) and "what went wrong" in back.message


@pytest.mark.parametrize(
    ("status", "expected"), [(400, InvalidInputError), (413, InvalidInputError), (500, StoreError)]
)
def test_other_statuses(status: int, expected: type[Exception]) -> None:
    back = error_for(httpx.Response(status, json={"detail": "no"}), "http://127.0.0.1:1")
    assert isinstance(back, expected)
