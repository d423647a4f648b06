"""The ``fcn-sneakers`` command (also ``python -m fcn_lib``): one subcommand per job."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _execute(args) -> int:
    import time

    from fcn_lib.execute import NotebookFailed, notebook_sources, record_time, run_notebook
    from fcn_lib.paths import executed_dir

    sources = args.notebooks or notebook_sources()
    out = args.out or executed_dir(Path(args.profile).stem)
    for source in sources:
        started = time.perf_counter()
        try:
            target = run_notebook(source, args.profile, out, prepare_only=args.prepare_only,
                                  timeout_s=args.timeout)
        except NotebookFailed as failure:
            print(f"error: {failure}", file=sys.stderr)
            return 1
        if args.prepare_only:
            print(f"prepared {source} -> {target}", file=sys.stderr)
        else:  # one line per notebook: its time and, from the last run, the time still to come
            print(record_time(out, source, time.perf_counter() - started), file=sys.stderr)
    return 0


def _catalog(args) -> int:
    from fcn_lib.catalog import write_embedded_catalog

    out = write_embedded_catalog(args.out, args.count, args.size, args.seed, workers=args.workers)
    print(f"wrote {args.count} sneakers to {out}", file=sys.stderr)
    return 0


def _masks(args) -> int:
    from tqdm import tqdm

    from fcn_lib.atomic import atomic_write_bytes
    from fcn_lib.images import list_images
    from fcn_lib.masks import mask_files, write_mask
    from fcn_lib.results import WriteFailed, write_result

    source, out = Path(args.source), Path(args.out)
    files = [source] if source.is_file() else list_images(source)
    if not files:
        print(f"error: {source}: no images to mask", file=sys.stderr)
        return 2
    written, failed = {}, []
    for outcome in tqdm(mask_files(files, args.method), total=len(files), desc="masks", unit="img"):
        error, stem = outcome.error, outcome.path.stem
        if error is None and stem.casefold() in written:
            error = (f"{outcome.path}: same name as {written[stem.casefold()]}; its mask would overwrite "
                     "that one (masks are named like their photos, to be found by them)")
        if error:
            failed.append({"file": str(outcome.path), "reason": error})
            tqdm.write(f"skipped: {error}", file=sys.stderr)
            continue
        try:
            write_result(write_mask, out / f"{stem}.png", outcome.mask)
        except WriteFailed as error:
            print(f"error: {error}; the {len(written)} masks written before it are complete in {out}",
                  file=sys.stderr)
            return 1
        written[stem.casefold()] = str(outcome.path)
    summary = {"method": args.method, "source": str(source), "written": len(written), "failed": failed}
    try:
        write_result(atomic_write_bytes, out / "summary.json", json.dumps(summary, indent=1).encode())
    except WriteFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(written)} masks written to {out}; {len(failed)} files skipped (listed in "
          f"{out / 'summary.json'})", file=sys.stderr)
    return 1 if failed else 0


def _train(args) -> int:
    from fcn_lib import distributed
    from fcn_lib.checkpoints import CheckpointMismatch, load_checkpoint
    from fcn_lib.config import load_profile
    from fcn_lib.locks import RunInProgress
    from fcn_lib.train import TrainingDiverged, train_stage

    try:
        path = train_stage(load_profile(args.profile), args.stage, init=args.init, resume=args.resume)
    except (FileNotFoundError, CheckpointMismatch, RunInProgress) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. the disk filled while a checkpoint was written
        print(f"error: {error}; the last checkpoint written before it is intact, and --resume continues "
              "from it", file=sys.stderr)
        return 1
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        distributed.leave()  # under torchrun: end the process group so that every process exits cleanly
    if distributed.rank() != 0:  # one report per run, not one per process
        return 0
    record = load_checkpoint(path)
    print(json.dumps({"checkpoint": str(path), "step": record["step"], **record["history"]["val"][-1]}))
    return 0


def _segment(args) -> int:
    import numpy as np
    from tqdm import tqdm

    from fcn_lib.images import BadImage, load_photo, write_png
    from fcn_lib.inference import Segmenter
    from fcn_lib.masks import write_mask
    from fcn_lib.results import WriteFailed, distinct_stems, input_files, write_result

    files, out = input_files(args.images), Path(args.out)
    if not files:
        print(f"error: no images in {' '.join(args.images)}", file=sys.stderr)
        return 2
    segmenter = Segmenter.from_checkpoint(args.checkpoint, args.device, args.mirror, args.photo_statistics)
    stems, failed, written = distinct_stems(files, (".png", ".cutout.png")), [], 0
    with tqdm(total=len(files), desc="segmenting", unit="img") as bar:
        for start in range(0, len(files), args.batch):
            photos = []
            for path in files[start:start + args.batch]:
                try:
                    photos.append(load_photo(path))
                except BadImage as error:
                    failed.append(str(error))
                    tqdm.write(f"skipped: {error}", file=sys.stderr)
                    continue
                if stems[path] != path.stem:
                    tqdm.write(f"note: {path}: another input is also named {path.stem}; its results are "
                               f"{out / stems[path]}.png and .cutout.png", file=sys.stderr)
                if photos[-1].reduction > 1:
                    height, width = photos[-1].rgb.shape[:2]
                    tqdm.write(f"note: {path}: decoded at 1/{photos[-1].reduction} size a side; its mask "
                               f"and cut-out are {width}x{height}", file=sys.stderr)
            try:
                for photo, mask in zip(photos, segmenter.masks([p.rgb for p in photos]), strict=True):
                    write_result(write_mask, out / f"{stems[photo.path]}.png", mask)
                    write_result(write_png, out / f"{stems[photo.path]}.cutout.png",
                                 np.dstack([photo.rgb, mask.astype(np.uint8) * 255]))
                    written += 1
            except WriteFailed as error:
                print(f"error: {error}; the {written} images segmented before it are complete in {out}",
                      file=sys.stderr)
                return 1
            bar.update(len(files[start:start + args.batch]))
    print(f"{written} images segmented into {out}; {len(failed)} skipped", file=sys.stderr)
    return 1 if failed else 0


def _evaluate(args) -> int:
    from tqdm import tqdm

    from fcn_lib.images import BadImage, list_images, load_photo
    from fcn_lib.inference import Segmenter
    from fcn_lib.masks import read_mask
    from fcn_lib.metrics import SplitScores

    images, masks = list_images(args.images), Path(args.masks)
    if not images:
        print(f"error: {args.images}: no images to evaluate on", file=sys.stderr)
        return 2
    if not masks.is_dir():
        raise FileNotFoundError(f"{masks}: no such folder")
    segmenter = Segmenter.from_checkpoint(args.checkpoint, args.device, args.mirror, args.photo_statistics)
    scores, failed = SplitScores(tolerance=args.tolerance), []
    for path in tqdm(images, desc="evaluating", unit="img"):
        mask_path = masks / f"{path.stem}.png"
        try:
            if not mask_path.exists():
                raise BadImage(f"{path}: no reference mask (looked for {mask_path})")
            photo = load_photo(path)
            truth = read_mask(mask_path, photo.rgb.shape[:2])
            scores.add(segmenter.masks([photo.rgb])[0], truth)
        except BadImage as error:
            failed.append(str(error))
            tqdm.write(f"skipped: {error}", file=sys.stderr)
    print(json.dumps({**scores.result(), "checkpoint": str(args.checkpoint), "failed": failed}))
    return 1 if failed or scores.images == 0 else 0


def _real(args) -> int:
    from fcn_lib.proxy import report

    print(json.dumps(report(args.checkpoint, args.part, args.device, mirror=args.mirror,
                            photo_statistics=args.photo_statistics)))
    return 0


def _fetch(args) -> int:
    from fcn_lib.fetch import FetchFailed, fetch

    try:
        fetch(args.dataset, args.out, args.url, args.md5, say=lambda line: print(line, file=sys.stderr))
    except FetchFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _decision_options(command: argparse.ArgumentParser) -> None:
    """The options of every command that decides on photos as ``segment`` does."""
    command.add_argument("--device", default="auto")
    command.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True,
                         help="decide on each photo and its mirror image together (twice the work)")
    command.add_argument("--photo-statistics", type=float, default=None, metavar="SHARE",
                         help="share of batch norm statistics from each photo (default: the checkpoint's)")


def build_parser() -> argparse.ArgumentParser:
    """The parser alone imports nothing heavy: ``--help``, ``--version`` and ``execute`` start at once."""
    from fcn_lib import __version__

    parser = argparse.ArgumentParser(prog="fcn-sneakers", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    execute = commands.add_parser("execute", help="run the book's notebooks in order with papermill")
    execute.add_argument("notebooks", nargs="*", help="notebook sources (default: all, in order)")
    execute.add_argument("--profile", default="cpu", help="profile name or YAML path (default: cpu)")
    execute.add_argument("--out", default=None,
                         help="folder for the executed notebooks (default: artifacts/<profile>/executed)")
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

    segment = commands.add_parser("segment", help="mask and cut out photos: DIR/<stem>.png, .cutout.png")
    segment.add_argument("images", nargs="+", help="photos or folders of photos, any size")
    segment.add_argument("--checkpoint", required=True)
    segment.add_argument("--out", required=True)
    segment.add_argument("--batch", type=int, default=16)
    _decision_options(segment)
    segment.set_defaults(handler=_segment)

    evaluate = commands.add_parser("evaluate", help="score a checkpoint on photos with known masks (JSON)")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--images", required=True, help="folder of photos")
    evaluate.add_argument("--masks", required=True, help="folder of 0/255 PNG masks named like the photos")
    evaluate.add_argument("--tolerance", type=float, default=2.0, help="boundary tolerance in pixels")
    _decision_options(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    real = commands.add_parser("real", help="score checkpoints on real photos (../shared/data or data/)")
    real.add_argument("--checkpoint", required=True, action="append", help="a checkpoint (repeatable)")
    real.add_argument("--part", choices=["tune", "test", "all"], default="tune",
                      help="which half of the held-out real photos (default: tune)")
    _decision_options(real)
    real.set_defaults(handler=_real)

    fetch = commands.add_parser("fetch", help="download real data into DIR: voc2012 (DIR/VOCdevkit) or "
                                               "zappos50k's sneakers (DIR/sneakers)")
    fetch.add_argument("dataset", choices=["voc2012", "zappos50k"])
    fetch.add_argument("--out", default="data", help="the data folder (default: data)")
    fetch.add_argument("--url", default=None, help="download from this mirror instead")
    fetch.add_argument("--md5", default=None, help="the mirror's MD5, where it differs")
    fetch.set_defaults(handler=_fetch)

    train = commands.add_parser("train", help="train one stage into artifacts/<profile>/<stage>.pt")
    train.add_argument("--profile", default="cpu")
    train.add_argument("--stage", required=True,
                       help="a stage of fcn_lib.stages.STAGES, e.g. fcn32s_white (a wrong name lists them)")
    train.add_argument("--init", default=None,
                       help="checkpoint of the previous stage (default: that stage's artifact)")
    train.add_argument("--resume", action="store_true", help="continue this stage's interrupted run")
    train.set_defaults(handler=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (FileNotFoundError, ValueError) as error:  # a wrong path or setting: the message, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # Ctrl-C: one line, the shell's exit code for SIGINT
        detail = f"; {interrupt}" if str(interrupt) else ""
        print(f"\ninterrupted: fcn-sneakers {args.command} stopped{detail}", file=sys.stderr)
        return 130
