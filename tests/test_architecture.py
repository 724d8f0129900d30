"""The shape of the code: layers, no import cycles, short modules, a typed public API."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("featurekit", "serving")
LONG = 500  # lines; a longer module says why at its top


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_import_linter_contracts_hold() -> None:
    """The layers and forbidden imports of pyproject.toml's [tool.importlinter]."""
    exe = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert re.search(r"Contracts: \d+ kept, 0 broken", run.stdout), run.stdout[-2000:]


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in modules:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append(
                        (w, iter(sorted(graph.find_modules_directly_imported_by(w))))
                    )
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def test_no_import_cycle_between_modules_function_level_imports_included() -> None:
    graph = grimp.build_graph(*PACKAGES)
    modules = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    assert _cycles(graph, modules) == []


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = grimp.ImportGraph()
    for m in ("p.a", "p.b", "p.c"):
        graph.add_module(m)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.b", imported="p.c")
    assert _cycles(graph, {"p.a", "p.b", "p.c"}) == [["p.a", "p.b"]]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_states_its_job_and_a_long_one_says_why(path: Path) -> None:
    text = path.read_text()
    doc = ast.get_docstring(ast.parse(text))
    if path.name != "__main__.py" and path.name != "_version.py":
        assert doc, f"{path} has no module docstring stating its job"
    n = text.count("\n")
    if n > LONG:
        assert doc and re.search(r"\blong\b", doc, re.I), (
            f"{path} has {n} lines: split it by responsibility, or say at its top "
            "why it is long"
        )


def _mypy(script: Path, *, clean_env: bool = False) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` on a user's script, from its own folder (outside the repo)."""
    env = None
    if clean_env:  # only the installed package: no path to the working tree
        env = {
            k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")
        }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--ignore-missing-imports",  # scikit-learn and pandas ship no types
            "--no-incremental",
            str(script),
        ],
        cwd=script.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _tour() -> str:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) == 1, "the README's tour is its one python block"
    return blocks[0]


def test_the_readme_tour_type_checks_strictly_against_the_installed_package(
    tmp_path: Path,
) -> None:
    """A user's script, outside the repository: mypy must see the real signatures."""
    script = tmp_path / "tour.py"
    script.write_text(_tour())
    run = _mypy(script, clean_env=True)
    assert run.returncode == 0, run.stdout[-4000:]
    assert "Success" in run.stdout


def test_a_type_error_in_a_user_script_is_reported(tmp_path: Path) -> None:
    """The check above can fail: a wrong argument type is caught through fk."""
    script = tmp_path / "wrong.py"
    script.write_text(
        "import featurekit as fk\n"
        "pipe = fk.make_pipeline(42, None)\n"
        "art = fk.export(pipe, 3.5)\n"
    )
    run = _mypy(script)
    assert run.returncode == 1, run.stdout
    assert 'Argument 1 to "make_pipeline" has incompatible type "int"' in run.stdout
    assert 'Argument 2 to "export" has incompatible type "float"' in run.stdout


def test_the_readme_is_a_short_guide() -> None:
    assert (ROOT / "README.md").read_text().count("\n") <= 300
    assert (
        shutil.which("make") is None or "make demo" in (ROOT / "README.md").read_text()
    )


def test_an_unknown_option_value_is_a_type_error_for_users(tmp_path: Path) -> None:
    """Option values are Literal types: a typo is caught before anything runs."""
    script = tmp_path / "typo.py"
    script.write_text(
        "import featurekit as fk\n"
        'fk.Numeric("income", scale="zscore")\n'
        'fk.Categorical("plan", unknown="skip")\n'
        'fk.Numeric("age", scale="robust", impute="median")\n'
    )
    run = _mypy(script)
    assert (
        'Argument "scale" to "Numeric" has incompatible type "Literal[\'zscore\']"'
        in run.stdout
    )
    assert 'Argument "unknown" to "Categorical"' in run.stdout
    assert "typo.py:4" not in run.stdout  # valid values pass


def test_public_return_types_are_concrete_for_users(tmp_path: Path) -> None:
    """What a user's checker infers: arrays, Split, DriftReport, Artifact, not Any."""
    script = tmp_path / "user_types.py"
    script.write_text(
        "import featurekit as fk\n"
        "from serving import Predictor\n"
        "p = Predictor.load('a')\n"
        "reveal_type(p.predict_proba({}))\n"
        "reveal_type(p.predict({}, on_error='split'))\n"
        "reveal_type(fk.drift('a', None))\n"
        "reveal_type(fk.load('a'))\n"
    )
    run = _mypy(script)
    out = run.stdout
    assert 'user_types.py:4: note: Revealed type is "numpy.ndarray' in out, out
    assert 'Revealed type is "serving.split.Split"' in out, out
    assert 'Revealed type is "featurekit.detection.DriftReport"' in out, out
    assert 'Revealed type is "featurekit.exporting.loading.Artifact"' in out, out
