"""Each option of ``angcut stream`` lives in four definitions that must agree: the command line's
flags (clap, crates/cli/flags.rs, which docs/cli.md is checked against), the core's
``StreamOptions`` (crates/core/src/plan.rs), the compiled ``_stream``'s keywords
(python/src/streaming.rs) and ``angcut.stream``'s keywords (python/angcut/__init__.py). A new
option added to one and not the others fails here, naming what is missing where."""

from __future__ import annotations

import inspect
import re
import subprocess

import angcut
from conftest import REPO

# What only the command line has: printing, not the job.
CLI_ONLY = {"quiet"}
# What the caller of the core handles, not the job's options: the summary file.
NOT_IN_CORE = {"stats_json"}
# What each caller of the core sets for itself, not an option: how its messages name options.
CORE_ONLY = {"spelling"}
# Positional and given objects, named differently in each.
POSITIONAL = {"paths", "in_path", "out_path", "given", "given_mask"}


def cli_options(binary: str) -> set[str]:
    help_text = subprocess.run([binary, "stream", "--help"], capture_output=True, text=True, check=True).stdout
    names = set()
    for line in help_text.splitlines():
        match = re.match(r"\s+(?:-\w, )?--([a-z][a-z-]*)", line)
        if match and match.group(1) != "help":
            names.add(match.group(1).replace("-", "_"))
    return names


def core_fields() -> set[str]:
    source = (REPO / "crates" / "core" / "src" / "plan.rs").read_text()
    body = re.search(r"pub struct StreamOptions \{(.*?)\n\}", source, re.S).group(1)
    return set(re.findall(r"^\s*pub (\w+):", body, re.M)) - POSITIONAL - CORE_ONLY


def compiled_keywords() -> set[str]:
    source = (REPO / "python" / "src" / "streaming.rs").read_text()
    signature = re.search(r"#\[pyo3\(signature = \((.*?)\)\)\]", source, re.S).group(1)
    names = {part.split("=")[0].strip() for part in signature.replace("\n", " ").split(",")}
    return names - {"*", ""} - POSITIONAL


def python_keywords() -> set[str]:
    return set(inspect.signature(angcut.stream).parameters) - POSITIONAL


def test_every_stream_option_is_defined_alike_everywhere(angcut_cli):
    cli = cli_options(angcut_cli) - CLI_ONLY
    python = python_keywords()
    compiled = compiled_keywords()
    core = core_fields()
    assert len(cli) > 30, cli
    assert cli == python, f"--flags without a keyword: {cli - python}; keywords without a flag: {python - cli}"
    assert compiled == python, f"_stream lacks {python - compiled}; angcut.stream lacks {compiled - python}"
    assert core == python - NOT_IN_CORE, f"StreamOptions lacks {python - NOT_IN_CORE - core}; has more: {core - python}"


def test_the_parsers_find_what_they_look_for():
    # The checks above compare sets read from source text: they must find the options at all.
    assert {"maxsep", "radius_from_mag", "rewrite", "out_dir"} <= core_fields()
    assert {"maxsep", "mask_bits", "rewrite", "stats_json"} <= compiled_keywords()
    assert {"maxsep", "on_invalid", "rewrite"} <= python_keywords()
