"""Before/after in-process cost of two source trees, interleaved, for a change under review.

Usage (from the repository root):
    bench/.venv-anchors/bin/python bench/ab.py BEFORE_TREE AFTER_TREE [--rounds 5]
        [--only stream,static] [--n 3000] [--targets bare,asgiforge]

Each round runs `bench/inproc.py` of BEFORE_TREE then of AFTER_TREE (each imports its own tree's
asgiforge and bench apps), so machine load hits both alike; the table keeps each figure's best
round. A development aid on a shared machine: `bench/run.py` gives the figures that count.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def run(tree: Path, args: argparse.Namespace) -> dict[tuple[str, str], float]:
    command = [
        sys.executable,
        str(tree / "bench" / "inproc.py"),
        "--only",
        args.only,
        "--n",
        str(args.n),
        "--repeat",
        "3",
        "--targets",
        args.targets,
    ]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    lines = output.splitlines()
    targets = lines[0].split()[1 : 1 + len(args.targets.split(","))]
    found = {}
    for line in lines[1:]:
        name, *values = line.split()
        for target, value in zip(targets, values, strict=True):
            found[name, target] = float(value)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="stream,static")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--targets", default="bare,asgiforge")
    args = parser.parse_args()
    best: dict[tuple[str, tuple[str, str]], float] = {}
    for _ in range(args.rounds):
        for label, tree in (("before", args.before), ("after", args.after)):
            for key, value in run(tree.resolve(), args).items():
                best[label, key] = min(value, best.get((label, key), value))
    print(f"{'scenario':<10}{'target':<11}{'before µs':>11}{'after µs':>10}{'after/before':>14}")
    for (label, (name, target)), before in sorted(best.items()):
        if label != "before":
            continue
        after = best["after", (name, target)]
        print(f"{name:<10}{target:<11}{before:>11.1f}{after:>10.1f}{after / before:>14.2f}")


if __name__ == "__main__":
    main()
