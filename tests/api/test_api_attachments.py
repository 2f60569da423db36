"""Attachments through `agio serve` (`agio chat --server URL -f IMAGE`): the server's body
limit fits what an embedded agio accepts, so an image at the per-image limit goes through,
and what is too large together is refused by the CLI up front with the line embedded agio
prints, not by a 413 after the upload. Real `agio serve`, real CLI subprocesses."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from helpers.servers import Server, clean_env

from agio_core.attachments import MAX_IMAGE_BYTES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png(path: Path, size: int) -> Path:
    """A file of `size` bytes that agio takes for a PNG (by its magic bytes)."""
    path.write_bytes(PNG_MAGIC + hashlib.shake_256(path.name.encode()).digest(size - 8))
    return path


def agio(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "agio_cli", *args]
    return subprocess.run(argv, env=clean_env(home), capture_output=True, text=True, timeout=120)


def image_urls(server: Server, run: dict[str, object]) -> list[str]:
    checkpoint = httpx.get(
        f"{server.url}/api/checkpoints/{run['last_checkpoint_id']}", timeout=30
    ).json()
    [user] = [m for m in checkpoint["messages"] if m["role"] == "user"]
    return [p["image_url"]["url"] for p in user["content"] if p["type"] == "image_url"]


@pytest.mark.parametrize("size", [5_000_000, MAX_IMAGE_BYTES])
def test_an_image_embedded_accepts_goes_through_the_server(
    server: Server, tmp_path: Path, size: int
) -> None:
    image = png(tmp_path / f"photo-{size}.png", size)
    done = agio(
        tmp_path / "client", "--server", server.url, "chat", "-f", str(image), "--json", "what?"
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["status"] == "completed" and "cannot see images" in run["response"]
    expected = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
    assert image_urls(server, run) == [expected]


def test_too_large_together_is_refused_up_front_as_embedded(server: Server, tmp_path: Path) -> None:
    images = [png(tmp_path / f"{n}.png", 15_000_000) for n in ("a", "b")]
    files = [arg for image in images for arg in ("-f", str(image))]
    embedded = agio(tmp_path / "home", "chat", *files, "what?")
    remote = agio(tmp_path / "client", "--server", server.url, "chat", *files, "what?")
    for done in (embedded, remote):
        assert done.returncode == 2, done
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("agio: error: attachments too large together: 40,000,"), line
        assert line.endswith(" per message")
    assert embedded.stderr == remote.stderr
