"""Shared helpers: a plain scalar reference for the cut, generated skies, the CLI binary."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def separation_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Vincenty's formula in plain Python floats: accurate at every separation."""
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    dra = r2 - r1
    num = math.hypot(math.cos(d2) * math.sin(dra), math.cos(d1) * math.sin(d2) - math.sin(d1) * math.cos(d2) * math.cos(dra))
    den = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(dra)
    return math.degrees(math.atan2(num, den))


def reference_near(ra, dec, cra, cdec, radii_deg):
    """Per object: (near any?, distance of the closest call to a radius boundary)."""
    near, margin = [], []
    for a, d in zip(ra, dec):
        seps = [separation_deg(a, d, ca, cd) for ca, cd in zip(cra, cdec)]
        near.append(any(s < r for s, r in zip(seps, radii_deg)))
        margin.append(min(abs(s - r) for s, r in zip(seps, radii_deg)))
    return np.array(near), np.array(margin)


def uniform_sky(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform on the sphere: ra uniform, dec = asin(uniform(-1, 1))."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 360.0, n), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))


@pytest.fixture(scope="session")
def angcut_cli() -> str:
    """The command-line binary: $ANGCUT_BIN, the repository's release build, or `angcut` on PATH."""
    candidates = [os.environ.get("ANGCUT_BIN"), str(REPO / "target" / "release" / "angcut"), shutil.which("angcut")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("the angcut binary is needed to compare with the CLI: run `cargo build --release` or set ANGCUT_BIN")


def run_cli(binary: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], capture_output=True, text=True, check=False)


def cli_cut(tmp_path, binary: str, frame, stars_path, *flags: str):
    """The command line's output (a pyarrow Table) on a pandas frame's rows, in their order,
    against the contaminants in `stars_path` at 1deg."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source, out = tmp_path / "rows.parquet", tmp_path / "cli.parquet"
    pq.write_table(pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False), source)
    done = run_cli(binary, "stream", str(source), str(out), "-c", str(stars_path), "--maxsep", "1deg", "-q", *flags)
    assert done.returncode == 0, done.stderr
    return pq.read_table(out)


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 worker processes with 1 thread each, and its client."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            # Both workers registered before any test scatters: a broadcast reaches the workers the
            # scheduler knows at that moment (under load, the second can still be starting).
            client.wait_for_workers(2, timeout=120)
            yield client


@pytest.fixture(scope="module")
def stars(tmp_path_factory):
    """2,000 contaminants at 1deg (about a quarter of the sky is near one): their Parquet file,
    for the CLI (`cli_cut`), and their ContaminantSet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import angcut

    ra, dec = uniform_sky(2_000, seed=13)
    path = tmp_path_factory.mktemp("stars") / "stars.parquet"
    pq.write_table(pa.table({"ra": ra, "dec": dec}), path)
    return path, angcut.ContaminantSet(ra, dec, maxsep="1deg")
