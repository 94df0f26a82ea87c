"""Self-contained HTML pages: the report, the monitoring page and the model card.

One style, tables and inlined PNG figures, and an atomic write, so every page opens offline
from a mail attachment or a file share: no scripts, nothing fetched.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.champion { background: #e8f4e8; font-weight: 600; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
code { background: #f4f4f4; padding: 0 3px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 8px; }
.muted { color: #666; } .alert, .red { color: #b00; font-weight: 600; }
.amber { color: #c70; } .green { color: #080; }
"""


def img(path: Path, caption: str) -> str:
    """A PNG inlined as a data URI, with its caption."""
    data = base64.b64encode(path.read_bytes()).decode()
    alt = html.escape(caption)
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
        f"<figcaption class='muted'>{alt}</figcaption></figure>"
    )


def table(
    frame: pd.DataFrame,
    row_class: Callable[[object], str] | None = None,
    cell_class: Callable[[str, object], str] | None = None,
) -> str:
    """``frame`` as a table, its index as the first column; ``row_class(key)`` and
    ``cell_class(column, value)`` name CSS classes (or "")."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [frame.index.name or "", *frame])
    rows = []
    for key, row in frame.iterrows():
        cls = f' class="{row_class(key)}"' if row_class and row_class(key) else ""
        cells = []
        for column, value in row.items():
            name = cell_class(column, value) if cell_class else ""
            attr = f' class="{name}"' if name else ""
            cells.append(f"<td{attr}>{html.escape(fmt(value))}</td>")
        rows.append(f"<tr{cls}><td>{html.escape(str(key))}</td>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def fmt(value) -> str:
    """A cell as text: floats to four decimals (whole thousands from 10 up), empty for NaN."""
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def page(title: str, body: str) -> str:
    """The whole HTML document."""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def write_page(out: Path, text: str) -> Path:
    """Write ``text`` to ``out`` atomically: a reader sees the old page or the new one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, out)
    return out
