"""A throw-away venv with ~1,000 installed distributions, built offline from dummy metadata.

A NoETL worker image can hold a thousand distributions; every entry-point scan reads each
one's metadata. `fat_venv(n)` creates a venv (no pip), makes this venv's packages importable in
it through a `.pth` that calls `site.addsitedir` (so editable installs keep working), and writes
`n` tiny `*.dist-info` directories (METADATA, RECORD, entry_points.txt with a console script)
into its site-packages: to `importlib.metadata`, pluggy and pydantic they are installed
distributions. No network, no pip.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _write_dist(site: Path, index: int) -> None:
    name = f"nib_pad_{index:04d}"
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[console_scripts]\n{name} = {name}:main\n")
    (info / "RECORD").write_text("")
    (info / "INSTALLER").write_text("bench\n")


@contextmanager
def fat_venv(distributions: int = 1000) -> Iterator[Path]:
    """Yield the `bin` directory of a venv that sees this venv's packages plus N dummy ones."""
    here = Path(sysconfig.get_paths()["purelib"])
    with tempfile.TemporaryDirectory(prefix="nib-fatvenv-") as root:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", root], check=True)
        venv_python = Path(root, "bin", "python")
        site = Path(subprocess.run(
            [str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True).stdout.strip())
        (site / "zz_bench_base.pth").write_text(f"import site; site.addsitedir({str(here)!r})\n")
        for i in range(distributions):
            _write_dist(site, i)
        yield venv_python.parent


if __name__ == "__main__":
    with fat_venv() as bin_dir:
        count = subprocess.run(
            [str(bin_dir / "python"), "-c",
             "import importlib.metadata as m; print(len(list(m.distributions())))"],
            capture_output=True, text=True, check=True).stdout.strip()
        print(f"{bin_dir}: {count} distributions")
