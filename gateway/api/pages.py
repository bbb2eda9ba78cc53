"""What the browser pages outside the review UI (``/verify``, ``/audit``) share: their templates,
security headers, language choice and static files.

Both pages are static shells whose script calls the API; they differ in their strings, their
template and a little of their CSP. Imports: gateway.review.i18n (language choice), core.errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.errors import NotFound
from gateway.review.i18n import LANG_COOKIE, LANGS, pick_lang

PUBLIC_DIR = Path(__file__).resolve().parent.parent / "public"
ENV = Environment(
    loader=FileSystemLoader(str(PUBLIC_DIR / "templates")),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
#: the assets both pages load
SHARED_STATIC = {"AssayUISans-Regular.otf": "font/otf", "favicon.svg": "image/svg+xml"}


def page_headers(*, img_src: str, cache: str) -> dict[str, str]:
    """Strict CSP (no inline script or style, no third party) and the usual hardening headers."""
    csp = (
        f"default-src 'none'; img-src {img_src}; style-src 'self'; script-src 'self'; font-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": cache,
    }


def render_page(
    request: Request,
    template: str,
    lang: str | None,
    messages: Callable[[str], dict[str, str]],
    headers: dict[str, str],
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` in the chosen language (``?lang=``, the cookie, else Accept-Language);
    an explicit ``?lang=`` is remembered in the cookie."""
    chosen = (
        lang
        if lang in LANGS
        else pick_lang(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    )
    t = messages(chosen)
    html = ENV.get_template(template).render(
        t=t,
        lang=chosen,
        other="en" if chosen == "zh" else "zh",
        messages_json=json.dumps(t, ensure_ascii=False).replace("<", "\\u003c"),
        **context,
    )
    resp = HTMLResponse(html, headers=headers)
    if lang in LANGS:
        resp.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax", httponly=True)
    return resp


def static_file(name: str, media: dict[str, str]) -> Response:
    """One of the page's own assets (``media``: file name -> media type); anything else is a 404."""
    media_type = media.get(name)
    if media_type is None:
        raise NotFound(f"no static file {name!r}")
    return Response(
        (PUBLIC_DIR / "static" / name).read_bytes(),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
