"""How fast does `agio` start? Median wall time of real processes, against `python -c pass`.

    agio --help            (target: 60 ms or less; a cache spares it Typer, see agio_cli._launch)
    agio --version
    agio chat "hi"         (offline model, no delay, fresh AGIO_HOME: the whole round trip)

Prints the figures; the last line is JSON: {"metric": "agio_help_ms", "value": X}.

    python bench/cli_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AGENT_YAML = "id: bench\nmodel: offline/demo\nmodel_params: {delay_ms: 0}\n"


def agio_command() -> list[str]:
    """The installed console script next to this Python, else `python -m agio_cli`."""
    script = Path(sys.executable).with_name("agio")
    if script.exists():
        return [str(script)]
    found = shutil.which("agio")
    return [found] if found else [sys.executable, "-m", "agio_cli"]


def timings_ms(command: list[str], env: dict[str, str], repeat: int) -> list[float]:
    subprocess.run(command, env=env, capture_output=True, check=True)  # warm the OS caches
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description="agio start-up time")
    parser.add_argument("--repeat", type=int, default=15, help="runs per command")
    args = parser.parse_args()

    agio = agio_command()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGIO_")}
        env |= {"AGIO_HOME": str(Path(tmp) / "home"), "NO_COLOR": "1"}
        agent_file = Path(tmp) / "bench.yaml"
        agent_file.write_text(AGENT_YAML)
        subprocess.run(
            [*agio, "agents", "create", "-f", str(agent_file)],
            env=env,
            check=True,
            capture_output=True,
        )

        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "agio --help": [*agio, "--help"],
            "agio --version": [*agio, "--version"],
            'agio chat "hi"': [*agio, "chat", "-a", "bench", "hi"],
        }
        samples = {name: timings_ms(command, env, args.repeat) for name, command in cases.items()}

    # The minimum says what the code costs; the median also says how busy the machine was.
    medians = {name: statistics.median(values) for name, values in samples.items()}
    baseline = medians["python -c pass"]
    print(f"{' '.join(agio)}  ({args.repeat} runs each)")
    for name, values in samples.items():
        median = medians[name]
        extra = "" if name == "python -c pass" else f"  +{median - baseline:4.0f} ms over python"
        print(f"{name:<16} median {median:6.1f} ms  min {min(values):6.1f} ms{extra}")
    print(json.dumps({"metric": "agio_help_ms", "value": round(medians["agio --help"], 1)}))


if __name__ == "__main__":
    main()
