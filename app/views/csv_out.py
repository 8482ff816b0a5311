"""CSV answers (``Accept: text/csv``) of the ledger and the occurrences, for spreadsheets.
Written with the standard library's :mod:`csv`; one header row, then one row per line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from starlette.requests import Request
from starlette.responses import Response

CSV_TYPE = "text/csv; charset=utf-8"


def wants_csv(request: Request) -> bool:
    """Whether the client asked for CSV (``Accept: text/csv``, alone or first among others)."""
    return "text/csv" in request.headers.get("accept", "").lower()


def _cell(value: object) -> object:
    """A value as a cell. Text that a spreadsheet would run as a formula (``=``, ``+``,
    ``-``, ``@``, tab, CR) is prefixed with ``'``, so a name can never be a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[object]], filename: str
) -> Response:
    """``rows`` under ``header`` as a CSV attachment named ``filename``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return Response(
        out.getvalue(),
        media_type=CSV_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
