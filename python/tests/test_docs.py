"""Every public object of the package has a docstring that help() shows, and the type stub
(_angcut.pyi) declares exactly what the compiled module has, with the same methods."""

from __future__ import annotations

import ast
import inspect

import angcut
import angcut._angcut as compiled
from conftest import REPO

STUB = REPO / "python" / "angcut" / "_angcut.pyi"


def stub_names() -> dict[str, set[str]]:
    """The stub's top-level names, each class with its public methods and properties."""
    tree = ast.parse(STUB.read_text())
    names: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("__")}
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = set()
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
