"""What the benchmarks' command lines share: a parser that knows --json, and how a run ends."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path


def arguments(doc: str, **defaults: float) -> argparse.ArgumentParser:
    """A benchmark's parser: the first paragraph of its docstring as the description, --json OUT,
    and an option for each keyword, typed as its default (back_to_back=200: --back-to-back N)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--json", metavar="OUT", help="also write every figure to OUT")
    for name, default in defaults.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default,
                            help=f"default {default:g}")
    return parser


def write_json(path: str | None, figures: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(figures, indent=1))


def finish(report: Callable[[dict], None], figures: dict, path: str | None) -> int:
    """Print the figures' tables, write them to --json's file if one was given; exit status 0."""
    report(figures)
    write_json(path, figures)
    return 0
