"""Cancel and pause racing a run's end, in numbers (issue 13's "done when").

    python bench/control_races.py [--races 300] [--seed 7] [--no-serve]

Runs `--races` cancel-vs-end and as many pause-vs-end races embedded (this process), then the
same through a real `agio serve` on a fresh AGIO_HOME (each race: start a short offline run,
send the call at a seeded random moment around its end, then compare the call's answer, the
run record and the stored event log; see tests/reliability/races.py). Prints one JSON line
per mode; exit status 1 if any record disagreed with its log or with the call's answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from reliability.races import embedded_races, served_races  # noqa: E402
from reliability.support import ServerProcess  # noqa: E402

from agio_core import Settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--races", type=int, default=300, help="races of each kind, per mode")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-serve", action="store_true", help="embedded races only")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        started = time.monotonic()
        tally = asyncio.run(
            embedded_races(Settings(home=Path(tmp) / "embedded"), 2 * args.races, args.seed)
        )
        report = {
            "mode": "embedded",
            **tally.summary(),
            "seconds": round(time.monotonic() - started, 1),
        }
        print(json.dumps(report), flush=True)
        failed |= bool(tally.disagreements)
        if not args.no_serve:
            home = Path(tmp) / "served"
            server = ServerProcess(home, Path(tmp) / "serve.log").start()
            try:
                started = time.monotonic()
                tally = asyncio.run(served_races(server.url, home, 2 * args.races, args.seed))
            finally:
                server.stop()
            report = {
                "mode": "agio serve",
                **tally.summary(),
                "seconds": round(time.monotonic() - started, 1),
            }
            print(json.dumps(report), flush=True)
            failed |= bool(tally.disagreements)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
