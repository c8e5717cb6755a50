"""Build tests/compat/corpus.json: every design of every earlier release, as that release planned it.

Run by hand (pytest does not collect it), from anywhere, with the project's virtual environment:

    cd /work/main && . .venv/bin/activate && python tests/compat/build_corpus.py

It rewrites tests/compat/corpus.json (`-o PATH` writes elsewhere) and prints what it did to standard
error. tests/test_compat.py then plans every entry with the current code and expects the same figures.

What it does:
- walks `git rev-list --reverse HEAD` and reads each commit's version: `version = "..."` in
  pyproject.toml's [project], or, where the version is dynamic, `__version__` in the file that
  [tool.hatch.version] names (else cnncalc/version.py, then cnncalc/__init__.py). A release is the
  LAST commit that carries its version; the version at HEAD (the one in development) is skipped.
- checks each release out in a temporary `git worktree add --detach` under the system's temporary
  folder (removed afterwards with `git worktree remove --force`; nothing else in the repository
  changes: no index, no branch, no file of the work tree).
- collects that release's designs: every examples/*.cnn file, and every design written in its
  README.md as the first, quoted argument of a shell command (`cnncalc plan|check|draw|export|verify|
  compare|sweep "..."`, also `python -m cnncalc ...`) or of a call of the library (`cnncalc.plan("...")`,
  `cnncalc.check("...")`) whose text has INPUT or `->`. Names of built-in designs (`cnncalc plan
  vgg16`) are examples files, already collected. The command's options are not kept: the design is
  planned with the defaults.
- plans each design with THAT release's code: `python -m cnncalc plan DESIGN --format json`, run with
  PYTHONPATH=<worktree> and cwd the temporary folder, so that the old package is the one imported
  (checked first); a release without `python -m cnncalc` runs its [project.scripts] entry point. A
  README design the release itself refused (exit code 2) is left out (it never planned); a release
  that fails to import is reported and skipped.
- keeps of each plan: totals.params, totals.macs, the last row's output [h, w, c] and whether it fits
  (no entry in `problems`; the report's `fits` where a release has no `problems`).

Each entry of corpus.json: {"version", "commit" (short), "source" ("examples/vgg16.cnn" or
"README.md"), "design" (the text), "params", "macs", "output": [h, w, c], "fits", "versions"}.
A design text planned with the same figures by several releases is one entry, of the earliest;
"versions" lists the later releases that planned it the same. Entries are sorted by release, then
source (examples before README.md), then design text.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Self

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT = HERE / "corpus.json"

# the first quoted argument of a shell command, or of a library call, that names a design
SHELL = re.compile(r"""\bcnncalc\s+(?:plan|check|draw|export|verify|compare|sweep)\s+(?:"([^"\n]*)"|'([^'\n]*)')""")
LIBRARY = re.compile(r"""\bcnncalc\.(?:plan|check)\(\s*(?:"([^"\n]*)"|'([^'\n]*)')""")
VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def git(*args: str, check: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def show(commit: str, path: str) -> str | None:
    done = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:{path}"], capture_output=True, text=True,
                          check=False)
    return done.stdout if done.returncode == 0 else None


def version_at(commit: str) -> str | None:
    """The version a commit carries: pyproject's static one, or the dynamic one's __version__."""
    text = show(commit, "pyproject.toml")
    if text is None:
        return None
    try:
        meta = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    project = meta.get("project", {})
    if "version" in project:
        return str(project["version"])
    if "version" not in project.get("dynamic", []):
        return None
    paths = []
    named = meta.get("tool", {}).get("hatch", {}).get("version", {}).get("path")
    if named:
        paths.append(named)
    paths += ["cnncalc/version.py", "cnncalc/__init__.py"]
    for path in paths:
        source = show(commit, path)
        found = VERSION.search(source or "")
        if found:
            return found.group(1)
    return None


def version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.+-]", version))


def releases() -> tuple[list[tuple[str, str]], str | None]:
    """[(version, last commit carrying it)] in the history's order, without HEAD's version; and HEAD's."""
    last: dict[str, str] = {}
    for commit in git("rev-list", "--reverse", "HEAD").split():
        version = version_at(commit)
        if version is not None:
            last.pop(version, None)  # keep the dict in the order of each version's last commit
            last[version] = commit
    head = version_at(git("rev-parse", "HEAD").strip())
    return [(v, c) for v, c in last.items() if v != head], head


def readme_designs(readme: str) -> list[str]:
    """The designs README.md writes as a command's or a call's first quoted argument, once each."""
    found: list[str] = []
    for pattern in (SHELL, LIBRARY):
        for match in pattern.finditer(readme):
            design = match.group(1) if match.group(1) is not None else match.group(2)
            if ("INPUT" in design or "->" in design) and design not in found:
                found.append(design)
    # in the order they are written
    return sorted(found, key=readme.find)


class OldRelease:
    """A release checked out in a temporary worktree, and how to run its command line."""

    def __init__(self, version: str, commit: str, folder: Path):
        self.version, self.commit, self.folder = version, commit, folder
        self.tree = folder / "tree"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self.env.update(PYTHONPATH=str(self.tree), PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1", COLUMNS="200")
        self.command = [sys.executable, "-m", "cnncalc"]

    def __enter__(self) -> Self:
        git("worktree", "add", "--detach", str(self.tree), self.commit)
        return self

    def __exit__(self, *exc) -> None:
        git("worktree", "remove", "--force", str(self.tree), check=False)

    def run(self, args: list[str], command: list[str] | None = None, timeout: float = 600):
        return subprocess.run([*(command or self.command), *args], capture_output=True, text=True,
                              cwd=self.folder, env=self.env, timeout=timeout, check=False)

    def check_import(self) -> str | None:
        """None when the old package imports from the worktree and its command line answers; else why not."""
        done = self.run(["-c", "import cnncalc; print(cnncalc.__file__)"], [sys.executable])
        if done.returncode != 0:
            return f"import cnncalc failed: {done.stderr.strip().splitlines()[-1:]}"
        where = Path(done.stdout.strip()).resolve()
        if self.tree.resolve() not in where.parents:
            return f"imported {where}, not the worktree's package"
        if not (self.tree / "cnncalc" / "__main__.py").exists():
            scripts = tomllib.loads((self.tree / "pyproject.toml").read_text())["project"]["scripts"]
            module, function = scripts["cnncalc"].split(":")
            entry = (f"import sys; sys.argv[0] = 'cnncalc'; from {module} import {function}; "
                     f"sys.exit({function}())")
            self.command = [sys.executable, "-c", entry]
        done = self.run(["--help"])
        if done.returncode != 0:
            return f"cnncalc --help failed ({done.returncode}): {done.stderr.strip()[-300:]}"
        return None

    def plan(self, design: str) -> tuple[int, dict | None, str]:
        done = self.run(["plan", design, "--format", "json"])
        data = None
        if done.returncode == 0:
            data = json.loads(done.stdout)
        return done.returncode, data, done.stderr.strip()


def figures(data: dict) -> dict:
    """params, MACs, the last row's output and the fit status, from any release's plan JSON."""
    totals = data["totals"]
    output = data["layers"][-1]["output"]
    if isinstance(output, dict):
        output = [output["h"], output["w"], output["c"]]
    if "problems" in data:
        fits = not data["problems"]
    elif "fits" in data:
        fits = bool(data["fits"])
    else:
        fits = all(row.get("fits", True) for row in data["layers"])
    return {"params": totals["params"], "macs": totals["macs"], "output": [int(x) for x in output], "fits": fits}


def collect(version: str, commit: str) -> tuple[list[dict], list[str]]:
    """The entries of one release, and what was left out and why."""
    entries: list[dict] = []
    skipped: list[str] = []
    short = git("rev-parse", "--short", commit).strip()
    with (tempfile.TemporaryDirectory(prefix=f"cnncalc-compat-{version}-") as tmp,
          OldRelease(version, commit, Path(tmp)) as old):
        why = old.check_import()
        if why:
            log(f"{version} ({short}): SKIPPED, {why}")
            return [], [f"{version}: the whole release ({why})"]
        designs: list[tuple[str, str, str]] = []  # (source, what to plan, the design's text)
        for path in sorted((old.tree / "examples").glob("*.cnn")):
            designs.append((f"examples/{path.name}", str(path), path.read_text()))
        readme = old.tree / "README.md"
        if readme.exists():
            designs += [("README.md", text, text) for text in readme_designs(readme.read_text())]
        for source, argument, text in designs:
            start = time.perf_counter()
            rc, data, err = old.plan(argument)
            took = time.perf_counter() - start
            if data is None:
                last = next((line for line in err.splitlines() if line.strip()), "")
                what = "refused" if rc == 2 else f"failed (exit {rc})"
                skipped.append(f"{version} {source}: {text!r} {what}: {last}")
                log(f"  {version} {source}: {what} ({took:.2f} s): {last}")
                continue
            entry = {"version": version, "commit": short, "source": source, "design": text, **figures(data)}
            entries.append(entry)
            log(f"  {version} {source}: params {entry['params']:,} macs {entry['macs']:,} "
                f"output {entry['output']} fits {entry['fits']} ({took:.2f} s)")
    return entries, skipped


def deduplicate(entries: list[dict], order: list[str]) -> list[dict]:
    """One entry per design text and figures: the earliest release's, the later ones in "versions"."""
    rank = {v: i for i, v in enumerate(order)}
    kept: dict[tuple, dict] = {}
    for entry in sorted(entries, key=lambda e: rank[e["version"]]):
        key = (entry["design"], entry["params"], entry["macs"], tuple(entry["output"]), entry["fits"])
        if key in kept:
            if entry["version"] not in kept[key]["versions"] and entry["version"] != kept[key]["version"]:
                kept[key]["versions"].append(entry["version"])
        else:
            kept[key] = {**entry, "versions": []}
    return sorted(kept.values(), key=lambda e: (rank[e["version"]], e["source"] == "README.md", e["source"],
                                                e["design"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    args = parser.parse_args()
    found, head = releases()
    log(f"HEAD carries {head} (skipped); earlier releases: "
        + ", ".join(f"{v} at {c[:9]}" for v, c in found))
    entries: list[dict] = []
    skipped: list[str] = []
    for version, commit in found:
        log(f"{version} ({commit[:9]}):")
        got, left = collect(version, commit)
        entries += got
        skipped += left
    corpus = deduplicate(entries, [v for v, _ in found])
    args.output.write_text(json.dumps(corpus, indent=1, ensure_ascii=False) + "\n")
    log(f"{len(entries)} plans of {len(found)} releases -> {len(corpus)} entries in {args.output}")
    if skipped:
        log("left out:")
        for line in skipped:
            log(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
