"""Getting the labelled data set, verified by its checksum, and reading it for training.

``python -m stroke_risk.training.dataset`` (``make data``) copies it from ``STROKE_DATA``
or downloads it; :func:`load_training_data` refuses it whole if any row breaks the schema.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import pandas as pd

from stroke_risk.core.config import DATA_SHA256
from stroke_risk.core.patient_tables import DataError, parse_patients, read_table

logger = logging.getLogger(__name__)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_data(
    destination: Path,
    source_path: Path | None = None,
    url: str | None = None,
    expected_sha256: str = DATA_SHA256,
    timeout: float = 60.0,
) -> Path:
    """Copy (from ``source_path``) or download (from ``url``) the data set to ``destination``.

    The file is written beside the destination under a temporary name and only renamed into
    place once its sha256 matches, so an interrupted or corrupt transfer never leaves a
    file that later steps would trust.
    """
    if source_path is None and url is None:
        raise DataError("give a local copy of the data set (STROKE_DATA) or a URL to download")
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part", delete=False
    )
    tmp = Path(handle.name)
    try:
        with handle:
            if source_path is not None:
                if not source_path.is_file():
                    raise DataError(f"STROKE_DATA points to {source_path}, which is not a file")
                with source_path.open("rb") as src:
                    shutil.copyfileobj(src, handle)
            else:
                logger.info("Downloading the data set from %s", url)
                try:
                    # The configured data URL (Settings); the file is sha256-checked below.
                    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310  # nosec B310
                        shutil.copyfileobj(response, handle)
                except OSError as exc:
                    raise DataError(
                        f"could not download the data set from {url}: {exc}. Download it by hand "
                        "and set STROKE_DATA to its path."
                    ) from exc
        actual = sha256_of(tmp)
        if actual != expected_sha256:
            origin = source_path or url
            raise DataError(
                f"the data set from {origin} has sha256 {actual}, expected {expected_sha256}: "
                "it is not the Kaggle Stroke Prediction Dataset this project was built on"
            )
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return destination


def load_training_data(path: Path) -> pd.DataFrame:
    """Read the labelled data set, refusing it whole if any row breaks the schema."""
    parsed = parse_patients(read_table(path), require_target=True)
    if parsed.errors:
        shown = "\n  ".join(str(error) for error in parsed.errors[:10])
        more = len(parsed.errors) - 10
        suffix = f"\n  ... and {more} more" if more > 0 else ""
        raise DataError(f"{path} does not match the patient schema:\n  {shown}{suffix}")
    if parsed.valid.empty:
        raise DataError(f"{path} has no rows")
    return parsed.valid


def main() -> int:
    """``python -m stroke_risk.training.dataset``: the data set at the configured path, verified."""
    import sys

    from stroke_risk.core.config import get_settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_settings()
    if settings.data_path.is_file() and sha256_of(settings.data_path) == DATA_SHA256:
        logger.info("%s is present and verified", settings.data_path)
        return 0
    try:
        if settings.data is not None:
            fetch_data(settings.data_path, source_path=settings.data)
        else:
            fetch_data(settings.data_path, url=settings.data_url)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    logger.info("%s written and verified (sha256 %s)", settings.data_path, DATA_SHA256)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
