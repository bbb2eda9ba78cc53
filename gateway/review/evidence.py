"""Turning verdict evidence into what a reviewer looks at: boxes over an image, highlighted prompt
spans, near-duplicate matches. One home, so the page and any other front end read evidence alike.

Evidence shapes the checks emit (see :class:`safety.verdict.Verdict`): a ``box`` ``[x, y, w, h]``
at the top level (likeness) or in lists (``faces`` from image.faces, ``detections`` from image.nsfw);
a prompt span ``start``/``end`` into the original prompt, and more spans under ``matches``
(prompt.lexicon); a near-duplicate's ``source_id``, ``distance`` or ``similarity`` and ``path``.
Anything malformed is skipped, never trusted: a box outside the image is clipped, a span outside
the prompt dropped.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from core.images import DecodeLimits, decode_image
from safety.verdict import TargetKind, Verdict

#: which list keys in evidence hold boxes, and the overlay kind they draw as
_BOX_LISTS = {"faces": "face", "detections": "nsfw"}
_KIND_BY_CATEGORY = {"sexual": "nsfw", "minors": "nsfw", "real_person": "face", "likeness": "likeness"}


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int
    kind: str  # face | nsfw | likeness | other (the CSS class of the overlay)
    label: str

    def pct(self, width: int, height: int) -> dict[str, float]:
        return {
            "x": 100 * self.x / width,
            "y": 100 * self.y / height,
            "w": 100 * self.w / width,
            "h": 100 * self.h / height,
        }


@dataclass(frozen=True)
class Segment:
    text: str
    labels: tuple[str, ...] = ()  # empty: plain text; else the findings that cover it

    @property
    def highlighted(self) -> bool:
        return bool(self.labels)


@dataclass(frozen=True)
class NearDuplicate:
    target: str
    source_id: str
    index: str | None
    method: str | None
    distance: float | None
    similarity: float | None
    licence: str | None
    owner: str | None
    path: str | None
    number: int  # position among the item's near-duplicate findings (the page's image route)


@dataclass
class ImageEvidence:
    boxes: list[Box] = field(default_factory=list)
    findings: list[Verdict] = field(default_factory=list)


def _box(raw: Any, width: int, height: int, kind: str, label: str) -> Box | None:
    if not isinstance(raw, (list, tuple)) or len(raw) != 4:
        return None
    try:
        x, y, w, h = (int(round(float(v))) for v in raw)
    except (TypeError, ValueError):
        return None
    x, y = max(0, min(x, width)), max(0, min(y, height))
    w, h = max(0, min(w, width - x)), max(0, min(h, height - y))
    if w == 0 or h == 0:
        return None
    return Box(x, y, w, h, kind, label)


def image_evidence(
    verdicts: list[Verdict], kind: TargetKind, index: int, size: tuple[int, int]
) -> ImageEvidence:
    """Boxes and findings for image ``index`` of ``kind`` (output or input), clipped to ``size``."""
    width, height = size
    out = ImageEvidence()
    for v in verdicts:
        if v.target.kind is not kind or v.target.index != index:
            continue
        out.findings.append(v)
        default_kind = _KIND_BY_CATEGORY.get(v.category.value, "other")
        ev = v.evidence or {}
        if "box" in ev:
            label = f"{v.category.value} {v.score:.2f}" + (
                f" {ev['name']}" if isinstance(ev.get("name"), str) else ""
            )
            b = _box(ev["box"], width, height, default_kind, label)
            if b:
                out.boxes.append(b)
        for key, box_kind in _BOX_LISTS.items():
            items = ev.get(key)
            if not isinstance(items, list):
                continue
            for it in items[:50]:
                if not isinstance(it, dict):
                    continue
                label = str(it.get("label") or v.category.value)
                if isinstance(it.get("score"), (int, float)):
                    label += f" {float(it['score']):.2f}"
                b = _box(it.get("box"), width, height, box_kind, label)
                if b:
                    out.boxes.append(b)
    return out


def _spans(v: Verdict, n: int) -> list[tuple[int, int]]:
    ev = v.evidence or {}
    matches = ev.get("matches")
    cands = [ev] + ([m for m in matches if isinstance(m, dict)] if isinstance(matches, list) else [])
    out = []
    for c in cands:
        s, e = c.get("start"), c.get("end")
        if isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= n:
            out.append((s, e))
    return out


def prompt_segments(prompt: str | None, verdicts: list[Verdict]) -> list[Segment]:
    """The prompt cut into plain and highlighted pieces (overlapping findings merge their labels)."""
    if not prompt:
        return []
    n = len(prompt)
    labels: list[set[str]] = [set() for _ in range(n)]
    for v in verdicts:
        if v.target.kind is not TargetKind.PROMPT:
            continue
        for s, e in _spans(v, n):
            for i in range(s, e):
                labels[i].add(f"{v.category.value} ({v.check}, {v.score:.2f})")
    segs: list[Segment] = []
    start = 0
    for i in range(1, n + 1):
        if i == n or labels[i] != labels[start]:
            segs.append(Segment(prompt[start:i], tuple(sorted(labels[start]))))
            start = i
    return segs


def near_duplicates(verdicts: list[Verdict]) -> list[NearDuplicate]:
    out: list[NearDuplicate] = []
    for v in verdicts:
        ev = v.evidence or {}
        if "source_id" not in ev:
            continue
        out.append(
            NearDuplicate(
                target=str(v.target),
                source_id=str(ev["source_id"]),
                index=str(ev["index"]) if ev.get("index") is not None else None,
                method=str(ev["method"]) if ev.get("method") else None,
                distance=_num(ev, "distance"),
                similarity=_num(ev, "similarity"),
                licence=ev.get("licence"),
                owner=ev.get("owner"),
                path=str(ev["path"]) if ev.get("path") else None,
                number=len(out),
            )
        )
    return out


def _num(ev: dict[str, Any], key: str) -> float | None:
    val = ev.get(key)
    return float(val) if isinstance(val, (int, float)) and not isinstance(val, bool) else None


def decoded_size(data: bytes) -> tuple[int, int]:
    """The size of a stored image as the checks saw it (decoded safely, EXIF orientation applied)."""
    return decode_image(data, limits=DecodeLimits(max_bytes=64 * 1024 * 1024), name="image").size


def as_png(data: bytes, *, max_side: int | None = None) -> bytes:
    """Decode any stored image safely and re-encode it as PNG (optionally shrunk): only pixels leave."""
    img = decode_image(data, limits=DecodeLimits(max_bytes=64 * 1024 * 1024), name="image")
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def source_png(path: str, *, max_side: int = 512) -> bytes:
    """The indexed source image a near-duplicate matched (a local file named by the operator's index)."""
    from core.errors import NotFound

    p = Path(path)
    if not p.is_file():
        raise NotFound("the matched source image is not on this machine", hint=f"the index names {path}")
    return as_png(p.read_bytes(), max_side=max_side)
