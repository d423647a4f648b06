"""The ``fcn-sneakers`` command (also ``python -m fcn_lib``): one subcommand per job."""

from __future__ import annotations

import argparse
import sys


def _execute(args) -> int:
    from fcn_lib.execute import NotebookFailed, notebook_sources, run_notebook

    sources = args.notebooks or notebook_sources()
    for source in sources:
        try:
            target = run_notebook(source, args.profile, args.out, prepare_only=args.prepare_only,
                                  timeout_s=args.timeout)
        except NotebookFailed as failure:
            print(f"error: {failure}", file=sys.stderr)
            return 1
        print(f"{'prepared' if args.prepare_only else 'executed'} {source} -> {target}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fcn-sneakers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    execute = commands.add_parser("execute", help="run the book's notebooks in order with papermill")
    execute.add_argument("notebooks", nargs="*", help="notebook sources (default: all, in order)")
    execute.add_argument("--profile", default="cpu", help="profile name or YAML path (default: cpu)")
    execute.add_argument("--out", required=True, help="folder for the executed notebooks")
    execute.add_argument("--prepare-only", action="store_true", help="inject parameters, do not run")
    execute.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    execute.set_defaults(handler=_execute)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
