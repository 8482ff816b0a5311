"""Print mutmut's results per module of app/scheduling/ (run by ``make mutation``).

Reads the ``mutants/app/scheduling/*.py.meta`` files that ``mutmut run`` leaves behind.
Score = (killed + timeout) / (mutants tested); a mutant no test reaches counts as
survived. ``--survivors`` lists the surviving mutants (``mutmut show NAME`` shows one).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit-code convention (mutmut/stats.py, 3.8.1), restated so the script needs
# nothing but the standard library.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests"}
STATUS |= {code: "timeout" for code in (36, -24, 24, 152, 255)}
STATUS |= {34: "skipped", 37: "killed"}  # 37: caught by the type checker (unused here)
COLUMNS = ("killed", "survived", "no tests", "timeout", "other")


def _status(code: int | None) -> str:
    if code is None:
        return "not run"
    return STATUS.get(code, "other")  # other: segfault, suspicious


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("mutants"))
    parser.add_argument("--seconds", type=int, help="wall time of the run, to print")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    parser.add_argument(
        "--names", action="store_true", help="print only the survivors' names, one per line"
    )
    args = parser.parse_args()

    metas = sorted((args.root / "app" / "scheduling").glob("*.py.meta"))
    if not metas:
        print(f"No mutmut results under {args.root}/; run `make mutation` first.")
        return 1
    rows: list[tuple[str, Counter[str]]] = []
    survivors: list[str] = []
    for meta in metas:
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter(_status(code) for code in codes.values())
        if sum(counts.values()) == counts["not run"]:
            continue
        rows.append((meta.name.removesuffix(".py.meta"), counts))
        survivors += sorted(k for k, c in codes.items() if _status(c) in ("survived", "no tests"))

    if args.names:
        print("\n".join(survivors))
        return 0
    header = f"{'module':<12}" + "".join(f"{c:>10}" for c in COLUMNS) + f"{'score':>9}"
    print(header)
    print("-" * len(header))
    total: Counter[str] = Counter()
    for name, counts in [*rows, ("all", total)]:
        if name == "all":
            print("-" * len(header))
        else:
            total.update(counts)
        tested = sum(counts[c] for c in COLUMNS)
        score = (counts["killed"] + counts["timeout"]) / tested if tested else 0.0
        cells = "".join(f"{counts[c]:>10}" for c in COLUMNS)
        print(f"{name:<12}{cells}{score:>9.1%}")
    if total["not run"]:
        print(f"({total['not run']} mutants not run: interrupted, or filtered by MUTANTS)")
    if args.seconds is not None:
        print(f"mutmut run took {args.seconds // 60} min {args.seconds % 60} s")
    if args.survivors:
        print("\nSurvivors (`mutmut show NAME` prints the diff):")
        print("\n".join(f"  {name}" for name in survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
