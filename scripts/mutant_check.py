"""Re-test mutants against the tests as they are now, without touching ``mutants/``.

While killing survivors of ``make mutation`` you want to know, in seconds, whether a new
test kills a mutant. This copies the mutated core from ``mutants/`` and the current
``tests/`` into a private folder (``--workdir``) and runs pytest once per mutant in a fresh
process, the way mutmut's fork server does (same plugins, caches cleared per test), so it
can run beside a ``make mutation`` that is still going.

    .venv/bin/python scripts/mutant_check.py 'app.scheduling.recurrence.*'
    .venv/bin/python scripts/mutant_check.py --tests tests/scheduling/test_burden.py \
        'app.scheduling.burden.x_burden_minutes__mutmut_3'

A pattern (fnmatch) picks among the mutants the last mutmut run left *surviving*, unless
``--all`` is given. It prints ``killed``/``survived`` per mutant, then the survivors.
The final word is mutmut's own: ``make mutation-survivors`` re-runs them in mutmut.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST_ARGS = [
    "-x",
    "-q",
    "--noconftest",
    "-p",
    "_hypothesis_pytestplugin",
    "-p",
    "tests.scheduling.mutation_plugin",
    "-p",
    "no:cacheprovider",
    "-W",
    "ignore::pytest.PytestAssertRewriteWarning",
    "--ignore=tests/scheduling/test_purity.py",
]
SURVIVED = (0, 5, 33)  # mutmut's codes for "no test failed" and "no test reached it"


def _mutants(root: Path, everything: bool) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for meta in sorted((root / "app" / "scheduling").glob("*.py.meta")):
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        found |= {k: c for k, c in codes.items() if everything or c in SURVIVED}
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("patterns", nargs="+", help="mutant names or fnmatch patterns")
    parser.add_argument(
        "--tests", action="append", help="test paths (repeat); default tests/scheduling"
    )
    parser.add_argument("--workdir", type=Path, default=Path(f"/tmp/mutant-check-{os.getpid()}"))
    parser.add_argument("--all", action="store_true", help="not only the last run's survivors")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    args = parser.parse_args()

    mutants_dir = ROOT / "mutants"
    if not (mutants_dir / "app" / "scheduling").is_dir():
        print("No mutants/ folder: run `make mutation` (or one module of it) first.")
        return 2
    known = _mutants(mutants_dir, args.all)
    names = sorted(n for n in known if any(fnmatch.fnmatchcase(n, p) for p in args.patterns))
    if not names:
        print("No mutant matches; check the names with scripts/mutation_report.py --survivors.")
        return 2

    work: Path = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(mutants_dir / "app", work / "app", ignore=shutil.ignore_patterns("*.meta"))
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    if (mutants_dir / "mutmut-stats.json").exists():  # the plugin orders tests by it
        shutil.copy2(mutants_dir / "mutmut-stats.json", work / "mutmut-stats.json")

    tests = args.tests or ["tests/scheduling"]
    survivors: list[str] = []
    for name in names:
        env = os.environ | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "MUTANT_UNDER_TEST": name}
        command = [sys.executable, "-m", "pytest", *PYTEST_ARGS, *tests]
        try:
            done = subprocess.run(
                command, cwd=work, env=env, capture_output=True, text=True, timeout=args.timeout
            )
            code: int | str = done.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        if code == 0:
            verdict = "survived"
            survivors.append(name)
        elif code in (1, "timeout"):
            verdict = "killed" if code == 1 else "timeout (counts as killed)"
        else:  # 2-5: interrupted, internal error, usage error, no tests: the tests are broken
            print(f"{name}: pytest exited {code}; the tests themselves fail to run:")
            print(done.stdout[-2000:], done.stderr[-2000:])
            return 2
        print(f"{verdict:<10} {name}", flush=True)
    print(f"\n{len(names) - len(survivors)} of {len(names)} killed.")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
