"""Accuracy report: every simulator scenario over many seeds, scored.

Each (scenario, seed) pair is simulated in the built-in store, replayed and
scored. Per-scenario summaries follow the recording format's rules: mean F1,
pooled exact-receipt and review rates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from walkout.eval.scoring import AccuracySummary, RecordingScore, score_recording
from walkout.eval.scoring import summarise as summarise_scores

logger = logging.getLogger(__name__)

DEFAULT_FIRST_SEED = 1000
"""Report seeds start here, well away from the small seeds the tests use."""


@dataclass(frozen=True)
class RunScore:
    scenario: str
    seed: int
    score: RecordingScore
    vision: bool = True
    """Whether the replay used the recording's vision observations."""


@dataclass(frozen=True)
class ScenarioSummary:
    scenario: str
    summary: AccuracySummary


def _run_one(job: tuple[str, int, bool]) -> RunScore:
    from walkout.fusion import replay
    from walkout.sim import builtin_store, simulate

    scenario, seed, vision = job
    recording = simulate(builtin_store(), scenario, seed)
    assert recording.truth is not None, "the simulator always writes truth"
    if not vision:
        recording.vision = None
    receipts = replay(recording).receipts
    score = score_recording(recording.truth, receipts)
    if score.f1 < 1.0:
        logger.info(
            "scenario %s seed %d (vision %s) scored F1 %.3f",
            scenario,
            seed,
            "on" if vision else "off",
            score.f1,
        )
    return RunScore(scenario, seed, score, vision)


def run_accuracy(
    scenarios: Sequence[str],
    seeds: Iterable[int],
    *,
    workers: int = 1,
    vision: Sequence[bool] = (True,),
    on_result: Callable[[RunScore], None] | None = None,
) -> list[RunScore]:
    """Simulate, replay and score every scenario over every seed.

    Each recording is replayed once per entry of ``vision``: True uses its
    vision observations, False replays on weights, poses and gates only.
    """
    jobs = [
        (scenario, seed, use_vision)
        for scenario in scenarios
        for seed in seeds
        for use_vision in vision
    ]
    results: list[RunScore] = []
    if workers <= 1:
        for job in jobs:
            result = _run_one(job)
            results.append(result)
            if on_result:
                on_result(result)
        return results
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(_run_one, jobs):
            results.append(result)
            if on_result:
                on_result(result)
    return results


def summarise_runs(runs: Sequence[RunScore]) -> list[ScenarioSummary]:
    """Summarise runs per scenario, in first-seen order, then an overall row."""
    by_scenario: dict[str, list[RecordingScore]] = {}
    for run in runs:
        by_scenario.setdefault(run.scenario, []).append(run.score)
    rows = [
        ScenarioSummary(name, summarise_scores(scores))
        for name, scores in by_scenario.items()
    ]
    rows.append(ScenarioSummary("overall", summarise_scores([r.score for r in runs])))
    return rows
