"""The corpus of third-party device material, `../shared/real-gear` beside the checkout.

Read at test time, never copied into this repository (its README.md and SOURCES.md say
where every file comes from). Where it is absent (a fresh clone without shared/), the
tests that need it skip and say so. REAL_GEAR_DIR points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("REAL_GEAR_DIR") or Path(__file__).resolve().parents[1].parent / "shared" / "real-gear")
ABSENT = f"the real-gear corpus is not at {ROOT} (set REAL_GEAR_DIR)"


def files(pattern: str) -> list[Path]:
    """The corpus files matching a glob under ROOT, sorted; [] when the corpus is absent
    (pytest then skips the parametrised test, naming the empty parameter set)."""
    return sorted(ROOT.glob(pattern)) if ROOT.is_dir() else []


def path(*parts: str) -> Path:
    """A path in the corpus, or skip the calling test when the corpus is absent."""
    if not ROOT.is_dir():
        pytest.skip(ABSENT)
    return ROOT.joinpath(*parts)


def ids(paths: list[Path]) -> list[str]:
    """Test ids: the paths relative to the corpus root."""
    return [str(p.relative_to(ROOT)) for p in paths]
