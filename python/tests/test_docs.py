"""Every public object of the package has a docstring that help() shows, the type stub
(_angcut.pyi) declares exactly what the compiled module has, with the same methods, and the
python examples of the README and the guide (docs/) run as written."""

from __future__ import annotations

import ast
import inspect
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import angcut
import angcut._angcut as compiled
from conftest import REPO

STUB = REPO / "python" / "angcut" / "_angcut.pyi"


def stub_names() -> dict[str, set[str]]:
    """The stub's top-level names (classes with their public methods and properties, functions, constants)."""
    tree = ast.parse(STUB.read_text())
    names: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("__")}
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = set()
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and not node.target.id.startswith("__"):
            names[node.target.id] = set()  # a constant, as `PARQUET_EXTENSIONS: list[str]`
    return names


def test_public_objects_have_docstrings():
    for name in angcut.__all__:
        obj = getattr(angcut, name)
        if name == "__version__":
            continue
        assert inspect.getdoc(obj), f"angcut.{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    assert inspect.getdoc(member), f"angcut.{name}.{attr} has no docstring"
    # The class's own text, not the first line of something else's.
    assert inspect.getdoc(angcut.ContaminantSet).startswith("A contaminant set and its index")


def test_the_stub_declares_what_the_module_has():
    declared = stub_names()
    present = {name for name in dir(compiled) if not name.startswith("__")}
    assert set(declared) == present, (set(declared) ^ present)
    for name, methods in declared.items():
        obj = getattr(compiled, name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            public = {attr for attr in dir(obj) if not attr.startswith("__")}
            assert methods == public, (name, methods ^ public)


def fenced_blocks(text: str) -> list[tuple[int, list[str], str]]:
    """A Markdown page's fenced blocks: (first line, info words, text)."""
    blocks, info, start, lines = [], None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        if info is None and line.startswith("```"):
            info, start, lines = line[3:].split(), number, []
        elif info is not None and line == "```":
            blocks.append((start, info, "".join(l + "\n" for l in lines)))
            info = None
        elif info is not None:
            lines.append(line)
    return blocks


GUIDE = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", [p for p in GUIDE if "```python\n" in p.read_text()], ids=lambda p: p.name)
def test_the_guides_python_examples_run(page, tmp_path, monkeypatch, angcut_cli):
    """Each page's python blocks run in order, in one namespace, after the shell blocks before
    them (which make the files they read), in a directory holding a copy of the fixtures; the
    exit codes and printed output of the shell blocks are the Rust docs test's business."""
    shutil.copytree(REPO / "fixtures", tmp_path / "fixtures")
    monkeypatch.chdir(tmp_path)
    env = dict(os.environ, PATH=f"{Path(angcut_cli).parent}:{os.environ['PATH']}")
    namespace: dict = {}
    ran = 0
    for line, info, text in fenced_blocks(page.read_text()):
        if "norun" in info or not info:
            continue
        if info[0] == "sh":
            subprocess.run(["bash", "-euo", "pipefail", "-c", text], check=True, env=env, cwd=tmp_path)
        elif info[0] == "console":
            for command in (l[2:] for l in text.splitlines() if l.startswith("$ ")):
                command = command.replace("cargo run --release -- ", "angcut ")
                subprocess.run(["bash", "-c", command], env=env, cwd=tmp_path, capture_output=True)
        elif info[0] == "python":
            exec(compile(text, f"{page.name}:{line}", "exec"), namespace)
            ran += 1
    assert ran > 0
