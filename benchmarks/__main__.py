"""``python -m benchmarks NAME [options]``: one benchmark, its figures printed as one line of JSON."""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks import augmentation, checkpoint, data_making, layers, schedule, training_step
from fcn_lib import models


def _list(text: str) -> list[str]:
    return text.split(",")


def _network_options(parser: argparse.ArgumentParser, batch: int) -> None:
    parser.add_argument("--arch", choices=["fcn32s", "fcn16s", "fcn8s"], default="fcn8s")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--width", type=float, default=1.0, help="channel width (1.0: VGG-16)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")


EMBEDDED_HELP = ("the rendered catalogue and the wheels' scenes instead of the profile's real data "
                 "(a machine without internet or data/)")


def _embedded(args) -> dict:
    return {"sneakers": "embedded", "backgrounds": "embedded"} if args.embedded_data else {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="benchmark", required=True)

    def command(name: str, function, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=function.__doc__)
        sub.set_defaults(function=function)
        return sub

    sub = command("composite", _composite, "composites per second")
    sub.add_argument("--size", type=int, default=224)
    sub.add_argument("--count", type=int, default=2000, help="composites per worker")
    sub.add_argument("--workers", type=int, default=1)

    sub = command("catalog", _catalog, "rendering the embedded catalogue")
    sub.add_argument("--size", type=int, default=224)
    sub.add_argument("--count", type=int, default=4500)
    sub.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")

    sub = command("loader", _loader, "a profile's data path alone, into the device")
    sub.add_argument("--profile", default="full")
    sub.add_argument("--stage", default="fcn8s_background")
    sub.add_argument("--steps", type=int, default=100, help="batches")
    sub.add_argument("--workers", type=int, default=None, help="default: the profile's")
    sub.add_argument("--device", default="auto")
    sub.add_argument("--embedded-data", action="store_true", help=EMBEDDED_HELP)

    sub = command("model", _model, "training speed and memory per layout (aligned against caffe)")
    _network_options(sub, batch=1)
    sub.add_argument("--layout", type=_list, default=["aligned", "caffe"])

    sub = command("train", _train, "a training step with the GPU settings, and its FLOP rate")
    _network_options(sub, batch=15)
    sub.add_argument("--layout", type=_list, default=["aligned"], help="one or several: aligned,caffe")
    sub.add_argument("--amp", type=_list, default=["bf16"], help="one or several: bf16,fp32")
    sub.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    sub.add_argument("--compile", nargs="?", const="default", metavar="MODE", help="a torch.compile mode")
    sub.add_argument("--steps", type=int, default=10, help="steps per round")
    sub.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd",
                     help="the seed's SGD, or Adam as the cpu profile trains")
    sub.add_argument("--normalisation", choices=models.NORMALISATIONS, default="none",
                     help="the seed's VGG-16, or batch normalisation in the trunk as the cpu profile trains")

    sub = command("layers", _layers, "every convolution of a training step on its own")
    _network_options(sub, batch=15)
    sub.add_argument("--layout", default="aligned")
    sub.add_argument("--amp", default="bf16")
    sub.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    sub.add_argument("--steps", type=int, default=10, help="steps per round")

    sub = command("random-convolution", _random_convolution,
                  "the scene stage's random convolutions beside its training step")
    sub.add_argument("--share", type=float, default=0.5, help="share of the batch filtered")
    sub.add_argument("--size", type=int, default=128, help="image side in pixels")
    sub.add_argument("--batch", type=int, default=8)
    sub.add_argument("--width", type=float, default=0.125, help="channel width (1.0: VGG-16)")
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--steps", type=int, default=20, help="batches per round")
    sub.add_argument("--rounds", type=int, default=3, help="alternating rounds")

    sub = command("checkpoint", _checkpoint, "how long saving a checkpoint stops training")
    sub.add_argument("--arch", choices=["fcn32s", "fcn16s", "fcn8s"], default="fcn8s")
    sub.add_argument("--width", type=float, default=1.0)
    sub.add_argument("--device", default="auto")
    sub.add_argument("--rounds", type=int, default=3)

    sub = command("schedule", _schedule, "a profile's stages shortened, and the full schedule projected")
    sub.add_argument("--profile", default="full")
    sub.add_argument("--fraction", type=float, default=0.1, help="share of each stage's steps")
    sub.add_argument("--backbone", default=None, help="override backbone_weights (e.g. none)")
    sub.add_argument("--embedded-data", action="store_true", help=EMBEDDED_HELP)
    compile_choice = sub.add_mutually_exclusive_group()
    compile_choice.add_argument("--compile", metavar="MODE", help="train with torch.compile in MODE")
    compile_choice.add_argument("--compile-off", action="store_true", help="train without torch.compile")
    return parser


def _composite(args) -> dict:
    return data_making.bench_composite(args.size, args.count, args.workers)


def _catalog(args) -> dict:
    return data_making.bench_catalog(args.size, args.count, args.workers)


def _loader(args) -> dict:
    return data_making.bench_loader(args.profile, args.stage, args.steps, args.workers, args.device,
                                    **_embedded(args))


def _model(args) -> dict:
    return training_step.bench_model(args.arch, args.layout, args.size, args.batch, args.width, args.device,
                                     args.rounds)


def _train(args) -> dict:
    return training_step.bench_train(args.arch, args.layout, args.amp, args.size, args.batch, args.width,
                                     args.channels_last, args.compile, args.device, args.steps, args.rounds,
                                     args.optimizer, args.normalisation)


def _layers(args) -> dict:
    return layers.bench_layers(args.arch, args.layout, args.size, args.batch, args.width, args.amp,
                               args.channels_last, args.device, args.steps, args.rounds)


def _random_convolution(args) -> dict:
    return augmentation.bench_random_convolution(args.share, args.size, args.batch, args.width, args.device,
                                                 args.steps, args.rounds)


def _checkpoint(args) -> dict:
    return checkpoint.bench_checkpoint(args.arch, args.width, args.device, args.rounds)


def schedule_overrides(args) -> dict:
    """The profile settings the schedule benchmark's flags change."""
    overrides = {"backbone_weights": args.backbone} if args.backbone else {}
    overrides.update(_embedded(args))
    if args.compile_off:
        overrides["compile"] = False
    elif args.compile:
        overrides.update(compile=True, compile_mode=args.compile)
    return overrides


def _schedule(args) -> dict:
    return schedule.bench_schedule(args.profile, args.fraction, **schedule_overrides(args))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.function(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
