"""The HTTP face of a witness (C2SP tlog-witness): ``POST /add-checkpoint``, run by ``assay audit witness``.

Why its own tiny app: a witness runs for *another* operator's log, on its own key and state,
usually on another host; it shares nothing with the gateway but the protocol code in
:mod:`provenance.ledger.witness`. Statuses are the spec's: 200 with the cosignature line,
400 malformed, 403 not signed by the log's key, 404 unknown log, 409 with the size it last
cosigned (``text/x.tlog.size``), 422 not consistent with that size.

Imports: provenance.ledger.witness only.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from core.errors import AssayError
from provenance.ledger.witness import Witness, WitnessConflict

#: the largest add-checkpoint body accepted (63 proof lines and a checkpoint fit in a few kB)
MAX_BODY = 64 * 1024


def witness_app(witness: Witness) -> FastAPI:
    app = FastAPI(title="Assay witness", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse(f"body exceeds {MAX_BODY} bytes\n", status_code=400)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return PlainTextResponse("body is not UTF-8\n", status_code=400)
        try:
            line = await run_in_threadpool(witness.add_checkpoint, text)
        except WitnessConflict as exc:
            # exactly this type: PlainTextResponse would add a charset
            return Response(f"{exc.size}\n", status_code=409, headers={"Content-Type": "text/x.tlog.size"})
        except AssayError as exc:
            return PlainTextResponse(exc.message + "\n", status_code=exc.status)
        return PlainTextResponse(line)

    @app.get("/")
    def about() -> PlainTextResponse:
        logs = "\n".join(sorted(witness.logs))
        return PlainTextResponse(f"{witness.cosigner.public.vkey()}\n\nwitnessing:\n{logs}\n")

    return app
