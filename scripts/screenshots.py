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
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import requests
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 60_000
# A high-risk man, as in the manual's examples: every part of the result shows.
PATIENT = {
    "Sex": "Male",
    "Hypertension": "Yes",
    "Heart disease": "No",
    "Ever married": "Yes",
    "Residence": "Urban",
    "Age (years)": "67",
    "Average glucose (mg/dL)": "228.7",
    "BMI (kg/m²)": "36.6",
    "Work type": "Private",
    "Smoking": "Smokes",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(command: list[str], ready: str, env: dict[str, str], log: Path) -> Iterator[None]:
    """A server in its own process group, stopped (the whole group) on exit."""
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise SystemExit(f"error: {command[0]} stopped; see {log}")
            try:
                if requests.get(ready, timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"error: {ready} did not answer in 180 s; see {log}")
            time.sleep(0.5)
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)


def palette_png(path: Path) -> None:
    """A palette PNG: a tenth of the size, small enough for git."""
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=128).save(path, optimize=True)


def full_page(page, path: Path) -> None:
    """All of the app's content (Streamlit scrolls inside its own container, so the window
    is made as tall as the content first; the toolbar is hidden)."""
    content = page.get_by_test_id("stMainBlockContainer")
    page.add_style_tag(content="[data-testid='stHeader'] { display: none; }")
    height = content.evaluate("element => element.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(height, 600) + 40})
    page.wait_for_timeout(1500)  # charts and tables redraw after the resize
    content.screenshot(path=path, animations="disabled")
    page.set_viewport_size(VIEWPORT)
    palette_png(path)


def settle(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=TIMEOUT_MS
    )
    page.wait_for_timeout(800)


def one_patient(page, output: Path) -> Path:
    """The form filled in by its visible labels, the result, and the summary PDF."""
    page.locator(".st-key-patient-smoking_status input").wait_for(timeout=TIMEOUT_MS)
    page.get_by_label("Patient reference (optional)", exact=True).fill("Mr B, 10:40")
    for label, answer in PATIENT.items():
        if label in ("Work type", "Smoking"):
            page.get_by_role("combobox", name=label).click()
            page.get_by_role("option", name=answer, exact=True).click()
        elif label.endswith(")"):
            page.get_by_label(label, exact=True).fill(answer)
        else:
            page.get_by_role("radiogroup", name=label).get_by_text(answer, exact=True).click()
    page.get_by_role("button", name="Estimate risk").click()
    page.get_by_test_id("stVegaLiteChart").wait_for(timeout=TIMEOUT_MS)
    settle(page)
    full_page(page, output / "app-single.png")
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
    settle(page)
    full_page(page, output / "app-batch.png")
    page.reload()  # a new session: no file uploaded yet
    page.get_by_role("radiogroup", name="Glucose unit").get_by_text("mmol/L", exact=True).click()
    page.get_by_role("tab", name="Many patients (CSV upload)").click()
    page.get_by_text("Glucose is read in mmol/L").wait_for(timeout=TIMEOUT_MS)
    settle(page)
    full_page(page, output / "app-upload-mmol.png")


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
    api_port, app_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    env = {**os.environ, "BENTOML_DO_NOT_TRACK": "true", "STROKE_ALLOW_ANONYMOUS": "true"}
    app_env = {**env, "STROKE_API_URL": api, "PYTHONPATH": str(REPO_ROOT)}
    with tempfile.TemporaryDirectory(prefix="screenshots-") as folder:
        work = Path(folder)
        serve = [
            str(BIN / "bentoml"),
            "serve",
            "service.py",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
        ]
        app = [
            str(BIN / "streamlit"),
            "run",
            "app/app.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(app_port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
        with (
            server(serve, f"{api}/readyz", env, work / "api.log"),
            server(app, f"http://127.0.0.1:{app_port}/_stcore/health", app_env, work / "app.log"),
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
            page.goto(f"http://127.0.0.1:{app_port}")
            pdf = one_patient(page, args.output)
            summary_png(pdf, args.output)
            many_patients(page, args.data, args.output, work)
            browser.close()
    for name in ("app-single.png", "app-batch.png", "app-upload-mmol.png", "summary-pdf.png"):
        print(f"{args.output / name}  ({(args.output / name).stat().st_size // 1024} KB)")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
