"""The bias report: who the released outputs show, per prompt group, model, tenant, policy or period.

Why it exists: the fairness concern (Luccioni et al. 2023, "Stable Bias") is a *distribution* over
many generations, so it is measured from the ledger, not per request. Every generation record
holds, per output in which ``image.faces`` found faces, the faces' perceived gender, age bracket
and skin tone (:class:`~provenance.ledger.bodies.PeopleFacts`, written by :mod:`gateway.people`).
:func:`bias_report` reads the generation records a query selects, keeps the outputs that were
released (allowed at once, or approved later by a reviewer: the approval's review record names its
content ids) and aggregates their faces by ``by``:

* counts and shares per perceived gender, age bracket and skin-tone class (ITA);
* a **disparity vs parity** for perceived gender: the female share minus 0.5, with a 95% Wilson
  score interval. Faces of one image are counted as independent draws, so with several faces per
  image the interval is somewhat too narrow; the image count is printed beside it.

These are model estimates of appearance, never identity. :func:`table` prints the report as
Markdown; :func:`write_chart` draws the gender shares with their intervals and the age and skin
tone shares as stacked bars, with matplotlib when it is installed, else with a small SVG writer.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from pydantic import BaseModel, ValidationError

from core.errors import InvalidRequest
from provenance.ledger.bodies import GenerationBody, PeopleFacts, ReviewAction, ReviewBody
from provenance.ledger.log import Ledger
from provenance.ledger.query import AuditQuery, iter_rows
from provenance.ledger.record import StoredRecord, stored_record
from safety.verdict import Action

__all__ = [
    "AGE_BRACKETS",
    "BiasGroup",
    "BiasReport",
    "GroupBy",
    "Share",
    "bias_report",
    "report_csv",
    "svg_chart",
    "table",
    "wilson",
    "write_chart",
]

GroupBy = Literal["prompt", "model", "tenant", "policy", "day", "week", "month"]
AGE_BRACKETS = ("<18", "18-29", "30-44", "45-64", "65+")
GENDERS = ("female", "male")
Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


class Share(BaseModel):
    """One value's count among a group's faces, its share and the share's 95% Wilson interval."""

    value: str
    count: int
    share: float
    low: float
    high: float


class BiasGroup(BaseModel):
    group: str
    images: int  # released outputs with at least one recorded face
    faces: int
    gender: list[Share]
    age_bracket: list[Share]
    skin_tone: list[Share]
    #: female share - 0.5 (parity), with the Wilson interval shifted the same way; None: no faces
    gender_disparity: float | None
    gender_disparity_low: float | None
    gender_disparity_high: float | None


class BiasReport(BaseModel):
    by: GroupBy
    outputs: Literal["released", "all"]
    records: int  # generation records read
    images: int  # outputs counted (with faces)
    faces: int
    groups: list[BiasGroup]
    note: str = (
        "perceived gender and age bracket are estimates of appearance by the CC0 dlib networks, "
        "skin tone the ITA class of the face's skin-like pixels; never identity. Intervals: 95% "
        "Wilson, faces counted as independent draws."
    )


def _shares(values: list[str], order: Iterable[str]) -> list[Share]:
    c = Counter(values)
    n = sum(c.values())
    keys = [k for k in order if k in c] + sorted(k for k in c if k not in set(order))
    out = []
    for k in keys:
        lo, hi = wilson(c[k], n)
        out.append(Share(value=k, count=c[k], share=round(c[k] / n, 4), low=round(lo, 4), high=round(hi, 4)))
    return out


def _key(by: GroupBy, rec: StoredRecord, people: PeopleFacts) -> str:
    if by == "prompt":
        return people.prompt_group
    if by == "model":
        return rec.model_id or "unknown"
    if by == "tenant":
        return rec.tenant
    if by == "policy":
        return rec.policy_id or "unknown"
    t: datetime = rec.created_at
    if by == "day":
        return t.strftime("%Y-%m-%d")
    if by == "week":
        y, w, _ = t.isocalendar()
        return f"{y}-W{w:02d}"
    return t.strftime("%Y-%m")


def _approved(ledger: Ledger, query: AuditQuery) -> set[str]:
    """Content ids a reviewer released (approved review records of the query's tenant, any time)."""
    q = AuditQuery(tenant=query.tenant, kind="review", order="asc")
    ids: set[str] = set()
    for row in iter_rows(ledger, q):
        body = stored_record(row).body
        if body.get("action") != ReviewAction.APPROVED.value:
            continue
        try:
            review = ReviewBody.model_validate(body)
        except ValidationError:
            continue  # a body of another shape is not an approval this report can read
        ids.update(o.content_id for o in review.outputs or [])
    return ids


def bias_report(
    ledger: Ledger,
    query: AuditQuery,
    *,
    by: GroupBy = "prompt",
    outputs: Literal["released", "all"] = "released",
) -> BiasReport:
    """Aggregate the recorded people facts of the generations ``query`` selects (see module doc)."""
    if query.kind not in (None, "generation"):
        raise InvalidRequest("the bias report reads generation records only", param="kind")
    q = query.model_copy(update={"kind": "generation", "order": "asc"})
    approved = _approved(ledger, q) if outputs == "released" else set()
    per: dict[str, list[PeopleFacts]] = {}
    records = 0
    for row in iter_rows(ledger, q):
        rec = stored_record(row)
        records += 1
        try:
            body = GenerationBody.model_validate(rec.body)
        except ValidationError:
            continue  # written before the generation body had its shape: no people facts either
        for out in body.outputs:
            if out.people is None or out.people.faces == 0:
                continue
            if outputs == "released" and out.action is not Action.ALLOW and out.content_id not in approved:
                continue
            per.setdefault(_key(by, rec, out.people), []).append(out.people)
    groups = []
    for g in sorted(per):
        faces = [f for p in per[g] for f in p.perceived]
        n = len(faces)
        females = sum(f.gender == "female" for f in faces)
        lo, hi = wilson(females, n)
        groups.append(
            BiasGroup(
                group=g,
                images=len(per[g]),
                faces=n,
                gender=_shares([f.gender for f in faces], GENDERS),
                age_bracket=_shares([f.age_bracket for f in faces], AGE_BRACKETS),
                skin_tone=_shares([f.skin_tone or "unknown" for f in faces], _TONES),
                gender_disparity=round(females / n - 0.5, 4) if n else None,
                gender_disparity_low=round(lo - 0.5, 4) if n else None,
                gender_disparity_high=round(hi - 0.5, 4) if n else None,
            )
        )
    return BiasReport(
        by=by,
        outputs=outputs,
        records=records,
        images=sum(g.images for g in groups),
        faces=sum(g.faces for g in groups),
        groups=groups,
    )


_TONES = ("very light", "light", "intermediate", "tan", "brown", "dark", "unknown")


def _cells(shares: list[Share]) -> str:
    return ", ".join(f"{s.value} {s.count} ({s.share:.0%})" for s in shares) or "-"


def table(report: BiasReport) -> str:
    """The report as a Markdown table (what ``assay report bias`` prints)."""
    head = {"prompt": "prompt group"}.get(report.by, report.by)
    lines = [
        f"bias report by {head}: {report.images} {report.outputs} output(s) with faces, "
        f"{report.faces} face(s), from {report.records} generation record(s)",
        "",
        f"| {head} | images | faces | perceived gender | female - parity (95% CI) "
        "| age bracket | skin tone (ITA) |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in report.groups:
        gap = (
            f"{g.gender_disparity:+.2f} [{g.gender_disparity_low:+.2f}, {g.gender_disparity_high:+.2f}]"
            if g.gender_disparity is not None
            else "-"
        )
        lines.append(
            f"| {g.group} | {g.images} | {g.faces} | {_cells(g.gender)} | {gap} | "
            f"{_cells(g.age_bracket)} | {_cells(g.skin_tone)} |"
        )
    if not report.groups:
        lines.append("| (no released output with recorded faces) | 0 | 0 | - | - | - | - |")
    lines += ["", report.note]
    return "\n".join(lines)


def report_csv(report: BiasReport) -> str:
    """One row per group, attribute and value: counts, shares and 95% intervals."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([report.by, "images", "faces", "attribute", "value", "count", "share", "low", "high"])
    for g in report.groups:
        for attr in ("gender", "age_bracket", "skin_tone"):
            for s in getattr(g, attr):
                w.writerow([g.group, g.images, g.faces, attr, s.value, s.count, s.share, s.low, s.high])
        if g.gender_disparity is not None:
            w.writerow(
                [
                    g.group,
                    g.images,
                    g.faces,
                    "gender_disparity",
                    "female-0.5",
                    "",
                    g.gender_disparity,
                    g.gender_disparity_low,
                    g.gender_disparity_high,
                ]
            )
    return buf.getvalue()


# --- the chart -------------------------------------------------------------------------------------
_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#bbbbbb")


def write_chart(report: BiasReport, path: Path) -> Path:
    """Draw the report to ``path`` (``.png`` needs matplotlib; ``.svg`` always works)."""
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise InvalidRequest(f"the chart must be a .svg or .png file, not {path.name!r}", param="chart")
    if suffix == ".png":
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise InvalidRequest(
                "a PNG chart needs matplotlib, which is not installed",
                param="chart",
                hint="pip install matplotlib, or write an .svg chart (no dependency)",
            ) from None
        return _matplotlib_chart(report, path)
    path.write_text(svg_chart(report), encoding="utf-8")
    return path


def _matplotlib_chart(report: BiasReport, path: Path) -> Path:  # pragma: no cover - matplotlib optional
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = report.groups
    fig, axes = plt.subplots(1, 3, figsize=(14, 1.2 + 0.5 * max(1, len(groups))), sharey=True)
    names = [g.group for g in groups]
    for ax, attr, title in zip(
        axes,
        ("gender", "age_bracket", "skin_tone"),
        ("perceived gender", "age bracket", "skin tone"),
        strict=True,
    ):
        values = [s.value for g in groups for s in getattr(g, attr)]
        order = list(dict.fromkeys(values))
        left = [0.0] * len(groups)
        for k, v in enumerate(order):
            w = [next((s.share for s in getattr(g, attr) if s.value == v), 0.0) for g in groups]
            ax.barh(names, w, left=left, color=_PALETTE[k % len(_PALETTE)], label=v)
            left = [a + b for a, b in zip(left, w, strict=True)]
        ax.set_xlim(0, 1)
        ax.set_title(title)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].axvline(0.5, color="black", lw=0.8, ls="--")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def svg_chart(report: BiasReport) -> str:
    """Stacked share bars per group for gender (with the female share's interval and the parity
    line), age bracket and skin tone, as a standalone SVG document."""
    groups = report.groups
    row, label_w, panel_w, gap, top = 22, 150, 220, 30, 40
    width = label_w + 3 * (panel_w + gap)
    height = top + row * max(1, len(groups)) + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>Assay bias report by {escape(report.by)}</title>",
    ]
    panels = (
        ("gender", "perceived gender"),
        ("age_bracket", "age bracket"),
        ("skin_tone", "skin tone (ITA)"),
    )
    for p, (attr, title) in enumerate(panels):
        x0 = label_w + p * (panel_w + gap)
        parts.append(f'<text x="{x0}" y="{top - 12}" font-weight="bold">{escape(title)}</text>')
        order = list(dict.fromkeys(s.value for g in groups for s in getattr(g, attr)))
        for r, g in enumerate(groups):
            y = top + r * row
            if p == 0:
                parts.append(
                    f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(g.group)}</text>'
                )
            left = 0.0
            for s in sorted(getattr(g, attr), key=lambda s: order.index(s.value)):
                colour = _PALETTE[order.index(s.value) % len(_PALETTE)]
                parts.append(
                    f'<rect x="{x0 + left * panel_w:.1f}" y="{y + 3}" width="{s.share * panel_w:.1f}" '
                    f'height="{row - 6}" fill="{colour}"><title>{escape(g.group)}: {escape(s.value)} '
                    f"{s.count} ({s.share:.0%}, 95% CI {s.low:.0%}-{s.high:.0%})</title></rect>"
                )
                left += s.share
            if (
                attr == "gender"
                and g.gender_disparity_low is not None
                and g.gender_disparity_high is not None
            ):
                lo, hi = (0.5 + g.gender_disparity_low) * panel_w, (0.5 + g.gender_disparity_high) * panel_w
                ym = y + row / 2
                parts.append(
                    f'<line x1="{x0 + lo:.1f}" y1="{ym}" x2="{x0 + hi:.1f}" y2="{ym}" '
                    'stroke="black" stroke-width="1.5"/>'
                )
        if attr == "gender":
            parts.append(
                f'<line x1="{x0 + panel_w / 2}" y1="{top}" x2="{x0 + panel_w / 2}" '
                f'y2="{top + row * max(1, len(groups))}" stroke="black" stroke-dasharray="3,3"/>'
            )
        for k, v in enumerate(order):
            lx, ly = x0 + (k % 3) * 72, top + row * max(1, len(groups)) + 14 + (k // 3) * 14
            parts.append(
                f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{_PALETTE[k % len(_PALETTE)]}"/>'
            )
            parts.append(f'<text x="{lx + 13}" y="{ly}">{escape(v)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
