"""Train, compare and calibrate the stroke-risk models; save the winner to the model store.

python training.py [--data PATH] [--seed N] [--quick] [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

from stroke_risk.core.config import get_settings
from stroke_risk.core.patient_tables import DataError
from stroke_risk.training.dataset import load_training_data
from stroke_risk.training.model_store import save_model
from stroke_risk.training.train import train
from stroke_risk.validation.reports import write_reports
from stroke_risk.validation.validate import validate_chosen_model

logger = logging.getLogger("training")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=settings.data_path,
        help="the data set CSV (default: %(default)s, made by `make data`)",
    )
    parser.add_argument("--seed", type=int, default=42, help="split, CV and model seed")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a one-point search with 5-fold CV, for tests (seconds)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("reports"),
        help="where metrics.json, model_card.md and plots go",
    )
    parser.add_argument("--jobs", type=int, default=2, help="parallel CV fits")
    parser.add_argument(
        "--validate",
        action="store_true",
        help="also validate the chosen model (bootstrap optimism correction, repeated CV, "
        "benchmarks, decision curve, subgroups, instability; minutes) into the reports",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    # One BLAS/OpenMP thread per process: parallelism comes from --jobs processes, and the
    # matrices are small (5,110 x 16), so a second BLAS thread only spins, more so on a
    # busy machine (measured: ten times the CPU time per logistic fit; bench/README.md).
    with threadpool_limits(limits=1):
        return run(args)


def run(args: argparse.Namespace) -> int:
    try:
        result = train(args.data, seed=args.seed, quick=args.quick, n_jobs=args.jobs)
    except DataError as exc:
        logger.error("%s", exc)
        return 2
    tag = save_model(result)
    validation = None
    if args.validate:
        logger.info("Validating %s (bootstrap and repeated CV; a few minutes)", result.winner)
        chosen = next(c for c in result.candidates if c.name == result.winner)
        args.output_dir.mkdir(parents=True, exist_ok=True)
        validation = validate_chosen_model(
            load_training_data(args.data),
            result.winner,
            chosen.best_params,
            seed=args.seed,
            quick=args.quick,
            n_jobs=args.jobs,
            plots_dir=args.output_dir,
        )
    paths = write_reports(result, args.output_dir, tag, validation)
    lines = [f"{'candidate':<22}{'CV ROC AUC':>18}{'OOF Brier':>11}{'OOF O/E':>9}"]
    for c in result.candidates:
        mark = "  <- winner" if c.name == result.winner else ""
        lines.append(
            f"{c.name:<22}{c.cv_auc_mean:>10.4f} ± {c.cv_auc_std:.4f}"
            f"{c.out_of_fold['brier']:>11.4f}{c.out_of_fold['observed_expected']:>9.2f}{mark}"
        )
    t = result.test_metrics
    lines.append(
        f"test split (once, calibrated winner): ROC AUC {t['roc_auc']:.4f}, "
        f"Brier {t['brier']:.4f}, O/E {t['observed_expected']:.2f}"
    )
    logger.info("Comparison:\n%s", "\n".join(lines))
    logger.info("Saved %s; reports in %s (%.1fs)", tag, ", ".join(map(str, paths)), result.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
