"""The auditor console at ``/audit``: charts, a record browser, exports, and proofs checked in the browser.

Why in the browser: an auditor should not have to trust the server's word that a record is in
the log. The record page fetches the record's inclusion proof and the signed checkpoint from the
audit API and checks them itself with WebCrypto: SHA-256 of the leaf it is shown, the RFC 9162
fold up to the root, the root against the checkpoint, and the checkpoint's Ed25519 signature
against the operator's public key (the one the auditor pinned, else the one the server names,
and the page says which). It shows "proof verified" or "proof failed" with the step that failed.

Access is the audit API's: the page is a static shell, and its script calls ``/v1/audit/...``
with the auditor's or admin's API key (typed in, kept in the tab's ``sessionStorage`` only), so
tenant scoping, 404s across tenants and rate limits are exactly the API's. Charts (decisions per
day, categories, kinds, policies and models; the perceived-gender share per prompt group of
``GET /v1/audit/reports/bias``) are drawn as SVG by the page's own script from the
records the key may see; no chart library, no CDN, strict CSP.

Imports: gateway.api.pages (templates, headers, language, assets shared with /verify).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from core.errors import NotFound
from gateway.api.pages import SHARED_STATIC, page_headers, render_page, static_file
from gateway.review.i18n import LANGS

router = APIRouter(prefix="/audit", include_in_schema=False)

STATIC = {
    "audit.css": "text/css; charset=utf-8",
    "audit.js": "text/javascript; charset=utf-8",
    **SHARED_STATIC,
}
_HEADERS = page_headers(img_src="'self'", cache="no-store")
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")

_BIAS = "Perceived gender by prompt group (female share, released outputs)"
_BIAS_NOTE = "Model estimates of appearance, never identity; dashed line: parity; whisker: 95% interval."
MESSAGES: dict[str, tuple[str, str]] = {
    "title": ("Assay audit console", "Assay 审计控制台"),
    "api_key": ("Auditor API key", "审计员 API 密钥"),
    "use_key": ("Open", "打开"),
    "key_note": (
        "The key stays in this tab (sessionStorage) and is sent only to this gateway's audit API.",
        "密钥仅保存在本标签页（sessionStorage），只发送到本网关的审计 API。",
    ),
    "pinned_key": ("Operator's checkpoint key (vkey), pinned", "运营方检查点公钥（vkey），已固定"),
    "pin": ("Pin", "固定"),
    "records": ("Records", "记录"),
    "charts": ("Charts", "图表"),
    "loaded": ("records loaded", "条记录已加载"),
    "decisions_per_day": ("Decisions per day", "每日决定"),
    "categories": ("Categories", "类别"),
    "kinds": ("Record kinds", "记录类型"),
    "policies": ("Policies", "策略"),
    "models": ("Models", "模型"),
    "bias": (_BIAS, "按提示词分组的感知性别（女性占比，已发布的输出）"),
    "bias_note": (_BIAS_NOTE, "模型对外观的估计，绝非身份；虚线：均等；误差线：95% 区间。"),
    "appeals": ("Appeals: overturn rate (false blocks)", "申诉：改判率（误拦截）"),
    "appeals_decided": ("decided", "已裁决"),
    "appeals_overturned": ("overturned", "已改判"),
    "overturn_rate": ("overturn rate", "改判率"),
    "filters": ("Filters", "筛选"),
    "kind": ("Kind", "类型"),
    "decision": ("Decision", "决定"),
    "category": ("Category", "类别"),
    "apply": ("Apply", "应用"),
    "export_jsonl": ("Export JSONL (with proofs)", "导出 JSONL（含证明）"),
    "export_csv": ("Export CSV", "导出 CSV"),
    "created": ("Created", "创建时间"),
    "record": ("Record", "记录"),
    "tenant": ("Tenant", "租户"),
    "policy": ("Policy", "策略"),
    "model": ("Model", "模型"),
    "back": ("Back to the records", "返回记录列表"),
    "proof": ("Inclusion proof, checked in this browser", "包含证明（在本浏览器中校验）"),
    "checking": ("Checking…", "正在校验…"),
    "proof_verified": ("proof verified", "证明已验证"),
    "proof_failed": ("proof failed", "证明失败"),
    "step_leaf": ("leaf hash = SHA-256(0x00 ‖ leaf)", "叶哈希 = SHA-256(0x00 ‖ 叶)"),
    "step_root": ("proof leads to the checkpoint's root", "证明路径通向检查点的根"),
    "step_sig": ("checkpoint signed by the operator's key", "检查点由运营方密钥签名"),
    "key_source_pinned": ("key: pinned in this browser", "公钥：本浏览器中固定的"),
    "key_source_server": (
        "key: as the server names it (pin the published key)",
        "公钥：服务器提供（请固定公布的公钥）",
    ),
    "error": ("Error", "错误"),
    "language": ("中文", "English"),
}


def messages(lang: str) -> dict[str, str]:
    i = LANGS.index(lang) if lang in LANGS else 0
    return {k: v[i] for k, v in MESSAGES.items()}


def _render(request: Request, record_id: str | None, lang: str | None) -> HTMLResponse:
    return render_page(request, "audit.html", lang, messages, _HEADERS, record_id=record_id or "")


@router.get("", response_class=HTMLResponse)
def console(request: Request, lang: str | None = None) -> HTMLResponse:
    return _render(request, None, lang)


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(record_id: str, request: Request, lang: str | None = None) -> HTMLResponse:
    if not _ULID.match(record_id):
        raise NotFound(f"{record_id!r} is not a record id (a ULID)", param="record_id")
    return _render(request, record_id, lang)


@router.get("/static/{name}")
def static(name: str) -> Response:
    return static_file(name, STATIC)
