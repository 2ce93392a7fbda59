"""Train, compare and calibrate the stroke-risk models; save the winner to the model store.

python training.py [--data PATH] [--seed N] [--quick] [--output-dir DIR]
python training.py --cohort FILE --horizon YEARS           (a model from a cohort)
python training.py --cohort FILE --validate-external TAG   (a stored model on a cohort)
python training.py --cohort FILE --update TAG              (closed-test update, new version)
"""

# ruff: noqa: E402 - the workers' fork server starts before the heavy imports (see below)
from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path

from stroke_risk.training.worker_server import jobs_argument, start_worker_server

JOBS = 2  # --jobs: parallel CV fits, refits and validation fits

if __name__ == "__main__":
    # First, before the imports below: the workers' fork server then does the same imports
    # on the other core meanwhile, and each worker starts with them done (worker_server.py).
    if (_jobs := jobs_argument(sys.argv[1:], JOBS)) > 1:
        start_worker_server(__file__, _jobs)

from threadpoolctl import threadpool_limits

from stroke_risk.core.config import get_settings
from stroke_risk.core.evidence import EVIDENCE_METADATA_KEY, evidence_metadata
from stroke_risk.core.patient_tables import DataError
from stroke_risk.training.cohort import load_cohort
from stroke_risk.training.dataset import load_training_data
from stroke_risk.training.model_store import ModelNotFoundError, save_cohort_model, save_model
from stroke_risk.training.survival import COHORT_REFITS, train_cohort
from stroke_risk.training.train import train
from stroke_risk.validation.cohort_reports import write_cohort_reports, write_external_report
from stroke_risk.validation.cohort_validation import validate_cohort_model
from stroke_risk.validation.external import validate_external
from stroke_risk.validation.reply_evidence import reply_evidence
from stroke_risk.validation.reports import write_reports
from stroke_risk.validation.served_card import card_record
from stroke_risk.validation.updating import describe_update, update_stored_model
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
    parser.add_argument(
        "--jobs", type=int, default=JOBS, help="parallel CV fits, refits and validation fits"
    )
    parser.add_argument(
        "--validate",
        action="store_true",
        help="also validate the chosen model (bootstrap optimism correction, repeated CV, "
        "benchmarks, decision curve, subgroups, instability; minutes) into the reports",
    )
    cohort = parser.add_argument_group("cohorts with follow-up (docs/data-teams/own-cohort.md)")
    cohort.add_argument(
        "--cohort", type=Path, help="a cohort file (CSV or Parquet): train a horizon model on it"
    )
    cohort.add_argument("--horizon", type=float, help="years: the risk's horizon (e.g. 5)")
    cohort.add_argument(
        "--refits",
        type=int,
        default=COHORT_REFITS,
        help="bootstrap refits for intervals, optimism and instability (default %(default)s)",
    )
    cohort.add_argument(
        "--validate-external", metavar="TAG", help="validate the stored model TAG on --cohort"
    )
    cohort.add_argument(
        "--update", metavar="TAG", help="update the stored model TAG on --cohort (closed test)"
    )
    args = parser.parse_args(argv)
    if (args.validate_external or args.update) and args.cohort is None:
        parser.error("--validate-external and --update need --cohort")
    if args.cohort and not (args.validate_external or args.update) and args.horizon is None:
        parser.error("a cohort model needs --horizon (years), e.g. --horizon 5")
    return args


def cohort_main(args: argparse.Namespace) -> int:
    """The cohort commands: train, validate externally or update; print the tag."""
    try:
        cohort = load_cohort(args.cohort)
        if args.validate_external:
            report = validate_external(args.validate_external, cohort, args.horizon)
            out = args.output_dir / "external" / report["model_tag"].replace(":", "-")
            paths = write_external_report(report, out)
            logger.info("%s", report["sample_size"]["verdict"])
            m = report["external_validation"]
            print(  # noqa: T201 - the command's answer
                f"O/E {m['observed_expected']:.2f} (95% CI {m['observed_expected_ci95'][0]:.2f}-"
                f"{m['observed_expected_ci95'][1]:.2f}), Uno's C {m['uno_c']:.3f}, "
                f"calibration slope {m['calibration']['slope']:.2f}; report: {paths[1]}"
            )
            return 0
        if args.update:
            result, test, validation = update_stored_model(
                args.update, cohort, args.horizon, args.seed, args.refits, args.jobs
            )
            logger.info("Closed test chose: %s", describe_update(test))
        else:
            result = train_cohort(cohort, args.horizon, args.seed, args.refits, args.jobs)
            logger.info("Validating at %g years (bootstrap optimism)", args.horizon)
            validation = validate_cohort_model(result, cohort, args.seed, args.jobs)
    except (DataError, ModelNotFoundError, ValueError) as exc:
        logger.error("%s", exc)
        return 2
    tag = save_cohort_model(result, validation)
    paths = write_cohort_reports(result, tag, validation, args.output_dir)
    logger.info("Reports: %s", ", ".join(map(str, paths)))
    print(tag)  # noqa: T201 - the command's answer: the saved model's tag
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    # One BLAS/OpenMP thread per process: parallelism comes from --jobs processes, and the
    # matrices are small (5,110 x 16), so a second BLAS thread only spins, more so on a
    # busy machine (measured: ten times the CPU time per logistic fit; bench/README.md).
    with threadpool_limits(limits=1):
        if args.cohort is not None:
            return cohort_main(args)
        return run(args)


def run(args: argparse.Namespace) -> int:
    try:
        result = train(args.data, seed=args.seed, quick=args.quick, n_jobs=args.jobs)
    except DataError as exc:
        logger.error("%s", exc)
        return 2
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
    # Saved with the model, so the reply quotes only what was measured (core.evidence).
    evidence = reply_evidence(load_training_data(args.data), validation)
    result.extra[EVIDENCE_METADATA_KEY] = evidence_metadata(evidence)
    # Saved after validation, so the served model card carries its figures.
    tag = save_model(result, card_record(validation, result.test_subgroups))
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
    code = main()
    # Everything is written and closed: spare the exit the collector's pass over every
    # object of the loaded libraries (about half a second). Exit hooks still run.
    gc.freeze()
    sys.exit(code)
