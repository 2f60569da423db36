"""The Host check (SPEC §5): only this server's names are answered, so a page that points a
DNS name of its own at 127.0.0.1 (DNS rebinding) cannot drive a loopback server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from helpers.servers import Server, agio_serve

from agio_core.api.middleware import host_allowed, host_name, parse_allowed_hosts


def _get(server: Server, host: str, path: str = "/api/agents") -> httpx.Response:
    headers = {"Host": host.encode("latin-1")}
    return httpx.get(f"{server.url}{path}", headers=headers, timeout=30)


def _port(server: Server) -> str:
    return server.url.rsplit(":", 1)[1]


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "localhost.", "[::1]:{port}"]
)
def test_loopback_names_are_answered(server: Server, host: str) -> None:
    answer = _get(server, host.format(port=_port(server)))
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "host",
    [
        "rebind.attacker.example:{port}",
        "attacker.example",
        "127.0.0.1.attacker.example",
        "localhost.attacker.example",
        "192.0.2.1",
        "",
        "ünïcode.example".encode().decode("latin-1"),  # raw UTF-8 bytes on the wire
    ],
)
def test_foreign_hosts_get_400_with_a_json_detail(server: Server, host: str) -> None:
    for path in ("/api/agents", "/api/health", "/docs", "/api/chat"):
        answer = _get(server, host.format(port=_port(server)), path)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.headers["content-type"] == "application/json"
        assert "AGIO_ALLOWED_HOSTS" in answer.json()["detail"]


def test_a_request_without_host_is_refused(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", int(_port(server))), timeout=10) as sock:
        sock.sendall(b"GET /api/health HTTP/1.0\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400"), reply
    assert b"AGIO_ALLOWED_HOSTS" in reply


@pytest.fixture(scope="module")
def named_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    instance = agio_serve(
        tmp_path_factory.mktemp("named"),
        "named",
        AGIO_ALLOWED_HOSTS=" api.example.com , *.corp.example,AGIO.example.org:443",
    )
    yield instance
    instance.stop()


def test_allowed_hosts_add_names(named_server: Server) -> None:
    for host in ("api.example.com", "api.example.com:8443", "x.corp.example", "agio.example.org"):
        assert _get(named_server, host).status_code == 200, host
    for host in ("corp.example", "example.com", "api.example.com.evil", "xcorp.example"):
        assert _get(named_server, host).status_code == 400, host
    assert _get(named_server, f"localhost:{_port(named_server)}").status_code == 200


def test_a_star_turns_the_check_off(tmp_path_factory: pytest.TempPathFactory) -> None:
    instance = agio_serve(tmp_path_factory.mktemp("any-host"), "any", AGIO_ALLOWED_HOSTS="*")
    try:
        assert _get(instance, "anything.example").status_code == 200
    finally:
        instance.stop()


def test_the_address_a_connection_came_in_on_is_allowed() -> None:
    # A server bound to 0.0.0.0 is reached as http://192.168.1.5:8000: that is its own name.
    assert host_allowed("192.168.1.5", [], bound="192.168.1.5")
    assert not host_allowed("192.168.1.6", [], bound="192.168.1.5")
    assert host_allowed("127.0.0.2", [], bound=None)  # all of 127/8 is loopback
    assert host_name("[2001:db8::1]:8000") == "2001:db8::1"
    assert host_name("Example.COM.:80") == "example.com"
    assert parse_allowed_hosts("a.example, *") is None
    assert parse_allowed_hosts("") == []
