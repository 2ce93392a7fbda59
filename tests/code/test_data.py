"""Getting the data set safely and reading patient tables with errors people can act on."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
from pathlib import Path

import pytest

from stroke_risk.core.config import DATA_SHA256
from stroke_risk.core.patient_tables import DataError, load_patients_csv
from stroke_risk.training.dataset import fetch_data, load_training_data

HEADER = (
    "id,gender,age,hypertension,heart_disease,ever_married,work_type,Residence_type,"
    "avg_glucose_level,bmi,smoking_status,stroke"
)
GOOD_ROW = "1,Male,67,0,1,Yes,Private,Urban,228.69,36.6,formerly smoked,1"


def csv_text(*rows: str, header: str = HEADER) -> io.StringIO:
    return io.StringIO("\n".join([header, *rows]) + "\n")


def test_the_real_data_set_loads_with_its_known_quirks(stroke_data):
    assert len(stroke_data) == 5110
    assert stroke_data["stroke"].sum() == 249
    assert stroke_data["bmi"].isna().sum() == 201
    assert (stroke_data["gender"] == "Other").sum() == 1
    assert (stroke_data["smoking_status"] == "Unknown").sum() == 1544
    assert stroke_data["age"].min() == pytest.approx(0.08)
    assert stroke_data["age"].max() == 82


def test_fetch_copies_a_local_file_and_checks_its_hash(tmp_path, data_path):
    destination = tmp_path / "data.csv"
    fetch_data(destination, source_path=data_path)
    assert hashlib.sha256(destination.read_bytes()).hexdigest() == DATA_SHA256


def test_fetch_refuses_a_file_with_the_wrong_hash_and_leaves_nothing(tmp_path):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(HEADER + "\n" + GOOD_ROW + "\n")
    destination = tmp_path / "out" / "data.csv"
    with pytest.raises(DataError, match="sha256"):
        fetch_data(destination, source_path=wrong)
    assert list(destination.parent.iterdir()) == []


def test_fetch_names_a_missing_local_file(tmp_path):
    with pytest.raises(DataError, match="not a file"):
        fetch_data(tmp_path / "data.csv", source_path=tmp_path / "nowhere.csv")


@pytest.fixture
def file_server(data_path: Path):
    """A local HTTP server on 127.0.0.1 serving the data set (and a truncated copy)."""
    body = data_path.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            payload = {"/data.csv": body, "/truncated.csv": body[:1000]}.get(self.path)
            if payload is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_downloads_and_verifies(tmp_path, file_server):
    destination = tmp_path / "data.csv"
    fetch_data(destination, url=f"{file_server}/data.csv")
    assert hashlib.sha256(destination.read_bytes()).hexdigest() == DATA_SHA256


def test_a_truncated_download_is_refused_and_removed(tmp_path, file_server):
    destination = tmp_path / "data.csv"
    with pytest.raises(DataError, match="sha256"):
        fetch_data(destination, url=f"{file_server}/truncated.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_says_what_to_do(tmp_path, file_server):
    with pytest.raises(DataError, match="STROKE_DATA"):
        fetch_data(tmp_path / "data.csv", url=f"{file_server}/missing.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(HEADER.replace(",bmi", "") + "\n" + GOOD_ROW.replace(",36.6", "") + "\n")
    with pytest.raises(DataError, match="missing column.*bmi"):
        load_training_data(path)


def test_an_unparseable_number_names_its_column_and_line(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("\n".join([HEADER, GOOD_ROW, GOOD_ROW.replace("228.69", "high")]) + "\n")
    with pytest.raises(DataError) as exc:
        load_training_data(path)
    assert "line 3" in str(exc.value)
    assert "avg_glucose_level" in str(exc.value)
    assert "'high' is not a number" in str(exc.value)


def test_an_unknown_category_names_its_column_line_and_the_allowed_values(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("\n".join([HEADER, GOOD_ROW.replace("Private", "Astronaut")]) + "\n")
    with pytest.raises(DataError) as exc:
        load_training_data(path)
    assert "line 2" in str(exc.value) and "work_type" in str(exc.value)
    assert "Govt_job" in str(exc.value)


def test_a_bad_label_is_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("\n".join([HEADER, GOOD_ROW[:-1] + "2"]) + "\n")
    with pytest.raises(DataError, match="stroke"):
        load_training_data(path)


def test_an_uploaded_table_keeps_its_good_rows_and_reports_the_bad_ones():
    upload = csv_text(
        GOOD_ROW,
        "2,Female,,0,0,Yes,Private,Urban,90,N/A,smokes,0",
        "3,female,50,0,0,yes,private,rural,90,N/A,Smokes,0",
        "4,Female,50,3,0,Yes,Private,Urban,90,22,smokes,0",
    )
    parsed = load_patients_csv(upload)
    assert parsed.valid["id"].tolist() == ["1", "3"]
    assert parsed.valid.loc[1, "work_type"] == "Private"
    assert parsed.error_lines == [3, 5]
    messages = [str(error) for error in parsed.errors]
    assert messages[0] == "line 3 (id 2), column 'age': is empty"
    assert "hypertension" in messages[1] and "id 4" in messages[1]


def test_an_upload_without_id_or_stroke_columns_is_fine():
    header = HEADER.replace("id,", "").replace(",stroke", "")
    parsed = load_patients_csv(csv_text(GOOD_ROW[2:-2], header=header))
    assert len(parsed.valid) == 1 and not parsed.errors


def test_a_file_that_is_not_csv_is_a_clear_error():
    with pytest.raises(DataError):
        load_patients_csv(io.BytesIO(b"\x00\x01\x02 not a table"))


def test_line_numbers_count_blank_lines_as_in_an_editor():
    upload = io.StringIO(
        "\n".join([HEADER, GOOD_ROW, "", "", GOOD_ROW.replace("Private", "Astronaut")]) + "\n"
    )
    parsed = load_patients_csv(upload)
    assert len(parsed.valid) == 1
    assert parsed.error_lines == [5]


def test_an_empty_category_cell_is_called_empty():
    parsed = load_patients_csv(csv_text(GOOD_ROW.replace("Private", "")))
    assert str(parsed.errors[0]) == "line 2 (id 1), column 'work_type': is empty"
