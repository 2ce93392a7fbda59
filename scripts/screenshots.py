"""The documentation's pictures of the app, made from the real thing: `make screenshots`.

Starts the API (`bentoml serve`, with the model in your model store, as `make run` does)
and the app (`streamlit run`) on free loopback ports, drives Debian's Chromium through
Playwright as a nurse and a practice manager would, and writes:

- app-single.png: one patient's result (form, risk, drivers chart, what-ifs);
- app-batch.png: a ranked upload with one bad row named;
- app-upload-mmol.png: the upload tab with glucose in mmol/L and the sample files;
- summary-pdf.png: the first page of the printable patient summary (via pdftoppm).

Run it after any change the app's screens show, and commit the images.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The browser tests' own helpers: the same servers, the same nurse filling in the same form.
from tests.app.chromium import (  # noqa: E402
    CHROMIUM,
    VIEWPORT,
    fill_in_the_form,
    full_page_screenshot,
    launch_chromium,
    palette_png,
    settle,
)
from tests.servers import bentoml_command, loopback_server, streamlit_server  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_MS = 60_000
START_TIMEOUT_SECONDS = 180
SETTLE_MS = 800


def one_patient(page, output: Path) -> Path:
    """The form filled in by its visible labels, the result, and the summary PDF."""
    fill_in_the_form(page, timeout_ms=TIMEOUT_MS)
    page.get_by_role("button", name="Estimate risk").click()
    page.get_by_test_id("stVegaLiteChart").wait_for(timeout=TIMEOUT_MS)
    settle(page, TIMEOUT_MS, SETTLE_MS)
    full_page_screenshot(page, output / "app-single.png")
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.get_by_role("button", name="Download the patient summary (PDF)").click()
    return Path(download.value.path())


def many_patients(page, data: Path, output: Path, work: Path) -> None:
    """A practice list with one bad row, then the upload tab in mmol/L."""
    upload = pd.read_csv(data, dtype=str, keep_default_na=False).head(12)
    upload.loc[3, "age"] = "abc"
    csv_path = work / "practice-list.csv"
    upload.to_csv(csv_path, index=False)
    page.get_by_role("tab", name="Many patients (CSV upload)").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(csv_path)
    page.get_by_role("button", name="Download the scored CSV").wait_for(timeout=TIMEOUT_MS)
    settle(page, TIMEOUT_MS, SETTLE_MS)
    full_page_screenshot(page, output / "app-batch.png")
    page.reload()  # a new session: no file uploaded yet
    page.get_by_role("radiogroup", name="Glucose unit").get_by_text("mmol/L", exact=True).click()
    page.get_by_role("tab", name="Many patients (CSV upload)").click()
    page.get_by_text("Glucose is read in mmol/L").wait_for(timeout=TIMEOUT_MS)
    settle(page, TIMEOUT_MS, SETTLE_MS)
    full_page_screenshot(page, output / "app-upload-mmol.png")


def summary_png(pdf: Path, output: Path) -> None:
    """The PDF's first page as a PNG (poppler's pdftoppm, a Debian package)."""
    target = output / "summary-pdf"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-singlefile", "-f", "1", str(pdf), str(target)],
        check=True,
    )
    palette_png(output / "summary-pdf.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "images")
    parser.add_argument(
        "--data", type=Path, default=REPO_ROOT / "healthcare-dataset-stroke-data.csv"
    )
    args = parser.parse_args(argv)
    if not CHROMIUM.is_file():
        print("error: Chromium is missing: run `make system-deps` as root", file=sys.stderr)  # noqa: T201
        return 1
    from playwright.sync_api import sync_playwright

    args.output.mkdir(parents=True, exist_ok=True)
    # This shell's model store and model tag (as `make run`), without keys: loopback only.
    env = {**os.environ, "BENTOML_DO_NOT_TRACK": "true", "STROKE_ALLOW_ANONYMOUS": "true"}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="screenshots-") as folder,
            loopback_server(
                "bentoml", bentoml_command(), env, Path(folder), "/readyz", START_TIMEOUT_SECONDS
            ) as api,
            streamlit_server(
                {**env, "STROKE_API_URL": api.url}, Path(folder), START_TIMEOUT_SECONDS
            ) as app,
            sync_playwright() as playwright,
        ):
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
            page.goto(app.url)
            pdf = one_patient(page, args.output)
            summary_png(pdf, args.output)
            many_patients(page, args.data, args.output, Path(folder))
            browser.close()
    except RuntimeError as error:  # a server that did not start: its log's end
        print(f"error: {error}", file=sys.stderr)  # noqa: T201
        return 1
    for name in ("app-single.png", "app-batch.png", "app-upload-mmol.png", "summary-pdf.png"):
        print(f"{args.output / name}  ({(args.output / name).stat().st_size // 1024} KB)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
