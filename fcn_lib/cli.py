"""The ``fcn-sneakers`` command (also ``python -m fcn_lib``): one subcommand per job."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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


def _catalog(args) -> int:
    from fcn_lib.synth import write_catalog

    out = write_catalog(args.out, args.count, args.size, args.seed, workers=args.workers)
    print(f"wrote {args.count} sneakers to {out}", file=sys.stderr)
    return 0


def _masks(args) -> int:
    from tqdm import tqdm

    from fcn_lib.images import list_images
    from fcn_lib.masks import mask_files, write_mask

    source, out = Path(args.source), Path(args.out)
    files = [source] if source.is_file() else list_images(source)
    written, failed = {}, []
    for outcome in tqdm(mask_files(files, args.method), total=len(files), desc="masks", unit="img"):
        error, stem = outcome.error, outcome.path.stem
        if error is None and stem in written:
            error = f"{outcome.path}: same name as {written[stem]}; its mask would overwrite that one"
        if error:
            failed.append({"file": str(outcome.path), "reason": error})
            print(f"skipped: {error}", file=sys.stderr)
            continue
        write_mask(out / f"{stem}.png", outcome.mask)
        written[stem] = str(outcome.path)
    summary = {"method": args.method, "source": str(source), "written": len(written), "failed": failed}
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"{len(written)} masks written to {out}; {len(failed)} files skipped (listed in "
          f"{out / 'summary.json'})", file=sys.stderr)
    return 1 if failed else 0


def _bench(args) -> int:
    from fcn_lib import bench

    if args.target == "composite":
        result = bench.bench_composite(args.size, args.count or 2000, args.workers or 1)
    elif args.target == "catalog":
        result = bench.bench_catalog(args.size, args.count or 4500, args.workers)
    else:
        result = bench.bench_model(args.arch, args.layout.split(","), args.size, args.batch, args.width,
                                   args.device, args.rounds)
    print(json.dumps(result))
    return 0


def _train(args) -> int:
    from fcn_lib.config import load_profile
    from fcn_lib.train import CheckpointMismatch, TrainingDiverged, load_checkpoint, train_stage

    try:
        path = train_stage(load_profile(args.profile), args.stage, init=args.init, resume=args.resume)
    except (FileNotFoundError, CheckpointMismatch) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    record = load_checkpoint(path)
    print(json.dumps({"checkpoint": str(path), "step": record["step"], **record["history"]["val"][-1]}))
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

    catalog = commands.add_parser("catalog", help="render the embedded sneaker catalogue")
    catalog.add_argument("--out", required=True, help="folder to write images/, masks/, catalog.json")
    catalog.add_argument("--count", type=int, default=4500)
    catalog.add_argument("--size", type=int, default=224)
    catalog.add_argument("--seed", type=int, default=0)
    catalog.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    catalog.set_defaults(handler=_catalog)

    masks = commands.add_parser("masks", help="mask product photos on white: DIR/<stem>.png (0/255)")
    masks.add_argument("source", help="a photo or a folder of photos")
    masks.add_argument("--out", required=True)
    masks.add_argument("--method", choices=["seed", "robust"], default="robust")
    masks.set_defaults(handler=_masks)

    bench = commands.add_parser("bench", help="measure speed; prints JSON")
    bench.add_argument("target", choices=["composite", "catalog", "model"])
    bench.add_argument("--size", type=int, default=224)
    bench.add_argument("--count", type=int, default=None, help="images to make (per worker)")
    bench.add_argument("--workers", type=int, default=None)
    bench.add_argument("--arch", choices=["fcn32s", "fcn16s", "fcn8s"], default="fcn8s")
    bench.add_argument("--layout", default="aligned,caffe", help="one layout, or several alternating")
    bench.add_argument("--batch", type=int, default=1)
    bench.add_argument("--width", type=float, default=1.0)
    bench.add_argument("--device", default="auto")
    bench.add_argument("--rounds", type=int, default=3, help="alternating rounds per layout")
    bench.set_defaults(handler=_bench)

    train = commands.add_parser("train", help="train one stage into artifacts/<profile>/<stage>.pt")
    train.add_argument("--profile", default="cpu")
    train.add_argument("--stage", required=True, choices=["fcn32s_white", "fcn16s_white", "fcn8s_white"])
    train.add_argument("--init", default=None,
                       help="checkpoint of the previous stage (default: that stage's artifact)")
    train.add_argument("--resume", action="store_true", help="continue this stage's interrupted run")
    train.set_defaults(handler=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
