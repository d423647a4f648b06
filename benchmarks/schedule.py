"""A profile's whole schedule, shortened to a fraction, and the full run's time projected from it."""

from __future__ import annotations

import statistics
import time

from fcn_lib import checkpoints, config, train
from fcn_lib.stages import stage_named


def bench_schedule(profile_name: str = "full", fraction: float = 0.1,
                   stage_names=("fcn32s_white", "fcn16s_white", "fcn8s_white", "fcn8s_background"),
                   **overrides) -> dict:
    """Run every stage of a profile for ``fraction`` of its iterations (learning-rate drops alike),
    validating and checkpointing as many times as the full run does, and project the full schedule's
    time: this run's wall time (setup, validations, checkpoints) plus the steps it left out at their
    measured rate."""
    profile = config.load_profile(profile_name, **overrides)
    shortened = profile.replace(
        profile=f"{profile.profile}-{fraction:g}", val_every=max(1, round(profile.val_every * fraction)),
        schedules={key: {"iterations": max(1, round(settings.iterations * fraction)),
                      "lr_drop": round(settings.lr_drop * fraction)}
                for key, settings in profile.schedules.items()})
    report = {"benchmark": "schedule", "profile": profile.profile, "fraction": fraction,
              "overrides": overrides, "stages": []}
    for name in stage_names:
        start = time.perf_counter()
        record = checkpoints.load_checkpoint(train.train_stage(shortened, name, progress=False))
        wall = time.perf_counter() - start
        history, steps = record["history"], record["step"]
        rate = statistics.median(entry["images_per_s"] for entry in history["train"])
        validation = statistics.mean(entry["seconds"] for entry in history["val"])
        full_steps = profile.schedules[stage_named(name).schedule_name].iterations
        full_validations = -(-full_steps // profile.val_every)  # every val_every steps, and at the end
        training = steps * shortened.batch_size / rate
        report["stages"].append({
            "stage": name, "steps": steps, "wall_s": round(wall, 3), "images_per_s": round(rate, 1),
            # the rest: data, network and compiler made ready, checkpoint pauses, the last write
            "setup_s": round(wall - training - validation * len(history["val"]), 2),
            "validations": len(history["val"]), "full_validations": full_validations,
            "validation_s": round(validation, 2),
            "sneaker_iou": round(history["val"][-1]["sneaker_iou"], 4),
            "boundary_f": round(history["val"][-1]["boundary_f"], 4),
            "projected_full_s": round(wall + full_steps * profile.batch_size / rate - training
                                      + (full_validations - len(history["val"])) * validation, 3)})
    report["wall_s"] = round(sum(stage["wall_s"] for stage in report["stages"]), 3)
    report["projected_full_s"] = round(sum(stage["projected_full_s"] for stage in report["stages"]), 3)
    return report
