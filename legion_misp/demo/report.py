"""A self-contained HTML report (inline CSS, PNG plots embedded as data URIs): what the demo showed.

Stages add sections; :meth:`HtmlReport.write` renders them in order. Everything user-supplied is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;color:#1d2330;
line-height:1.45;padding:0 1em}
h1{border-bottom:3px solid #2b5797}h2{margin-top:2em;color:#2b5797}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #c8cfdb;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#eef2f8}
.note{color:#555;font-size:.92em}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
.bad{color:#a11}.good{color:#176b2c}code{background:#f3f4f7;padding:0 .2em}
"""


@dataclass
class Section:
    title: str
    parts: list[str] = field(default_factory=list)


class HtmlReport:
    """Collects sections of paragraphs, tables and plots and writes one HTML file."""

    def __init__(self, title: str):
        self.title = title
        self.sections: list[Section] = []

    def section(self, title: str) -> Section:
        section = Section(title)
        self.sections.append(section)
        return section

    @staticmethod
    def paragraph(section: Section, text: str, css_class: str = "") -> None:
        attribute = f' class="{css_class}"' if css_class else ""
        section.parts.append(f"<p{attribute}>{html.escape(text)}</p>")

    @staticmethod
    def table(section: Section, headers: list[str], rows: list[list[Any]]) -> None:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows)
        section.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    @staticmethod
    def figure(section: Section, figure: Any, caption: str, png_path: Path | None = None) -> None:
        """Embed a matplotlib figure as PNG (and also save it to ``png_path`` when given)."""
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        data = buffer.getvalue()
        if png_path is not None:
            png_path.parent.mkdir(parents=True, exist_ok=True)
            png_path.write_bytes(data)
        encoded = base64.b64encode(data).decode("ascii")
        section.parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}">'
                             f"<figcaption class=\"note\">{html.escape(caption)}</figcaption></figure>")

    def render(self) -> str:
        generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        body = "".join(f"<h2>{html.escape(s.title)}</h2>{''.join(s.parts)}" for s in self.sections)
        return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(self.title)}"
                f"</title><style>{_CSS}</style></head><body><h1>{html.escape(self.title)}</h1>"
                f"<p class=\"note\">Generated {generated} by legion-misp.</p>{body}</body></html>")

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def new_figure(width: float = 6.4, height: float = 3.6) -> Any:
    """A matplotlib figure on the non-interactive Agg backend (no display needed)."""
    import matplotlib  # optional (demo/learning extra) and ~0.5 s to import: only when a figure is drawn

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))
