"""Text cells made safe for spreadsheets (OWASP, "CSV Injection").

A CSV file people open in Excel or LibreOffice runs a cell that starts with ``=``, ``+``,
``-`` or ``@`` as a formula (``=HYPERLINK(...)``, ``=1+1``), and a leading tab or carriage
return can hide such a start. Every CSV this project writes for people passes its text
cells through :func:`neutralised`, which prefixes those with a single quote: the
spreadsheet then shows the text as written. Numbers stay numbers (a negative number is
a number, not text); only text is changed.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    """``value``, with a leading ``'`` if it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
