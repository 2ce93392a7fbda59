"""The batch reply in pieces: every byte, its length, and the last piece ends the reply
(so BatchAdmission frees the worker's place with the last byte, not after it)."""

from __future__ import annotations

from starlette.background import BackgroundTask

from stroke_risk.serving.pieces_response import PiecesResponse
from tests.code.test_batch_admission import run_in_own_loop


def sent(response: PiecesResponse) -> list[dict]:
    messages: list[dict] = []

    async def send(message: dict) -> None:
        messages.append(message)

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    run_in_own_loop(lambda: response({"type": "http"}, receive, send))
    return messages


def test_the_last_piece_ends_the_reply_with_every_byte_and_its_length():
    pieces = [b'{"results":[', memoryview(b'{"a":1},{"a":2}'), b"]}"]
    start, *body = sent(PiecesResponse(pieces, media_type="application/json"))
    assert dict(start["headers"])[b"content-length"] == b"29"
    assert b"".join(bytes(m["body"]) for m in body) == b'{"results":[{"a":1},{"a":2}]}'
    assert [m["more_body"] for m in body] == [True, True, False]  # no empty message after


def test_the_background_task_runs_after_the_last_piece():
    done: list[str] = []
    response = PiecesResponse(
        [b"[", b"]"], media_type="application/json", background=BackgroundTask(done.append, "x")
    )
    assert len(sent(response)) == 3 and done == ["x"]


def test_no_pieces_is_an_empty_reply_that_still_ends():
    start, end = sent(PiecesResponse([], media_type="application/json"))
    assert dict(start["headers"])[b"content-length"] == b"0"
    assert end["more_body"] is False
