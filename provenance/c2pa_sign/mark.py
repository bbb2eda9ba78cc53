"""The `c2pa` mark: encode pixels + XMP into the file, sign the manifest, release nothing unsigned.

Why last and why fail closed: the C2PA hard binding hashes the file bytes, so every pixel and
metadata step must be done before signing; and a policy that lists ``c2pa`` promises a signed
file, so any failure — an expired certificate, an HSM that does not answer, a signed file that
does not read back as valid — raises :class:`SigningError` and the pipeline releases nothing.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from core.errors import ConfigError, MarkError, SigningError
from core.plugins import typed_options
from provenance.c2pa_sign.credentials import has_common_eku
from provenance.c2pa_sign.manifest import CONTROL_LABEL, INGREDIENT_LABEL, build_manifest
from provenance.c2pa_sign.sdk import ManifestReader, NativeSigner
from provenance.c2pa_sign.signer import PemFileSigner, Signer, process_signer
from provenance.label.embed import encode_image
from provenance.label.xmp import XmpError, build_packet
from provenance.ledger.bodies import C2paFacts
from provenance.marks import Artifact, MarkContext


class C2paOptions(BaseModel):
    """Options of ``c2pa`` in a policy's ``marks:`` list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: "policy": prompt text goes in the manifest only when the policy passes it (prompt_in_manifest);
    #: "never": not even then
    prompt: Literal["policy", "never"] = "policy"
    #: read the signed file back and require a valid manifest before it is released (~2 ms)
    self_check: bool = True


class C2paMark:
    """The ``c2pa`` mark. One per process; signing is serialised inside :class:`NativeSigner`."""

    name: ClassVar[str] = "c2pa"

    def __init__(
        self, signer: Signer, *, provider: str = "Assay", clock: Any = None, timeout_s: float = 30.0
    ) -> None:
        self.signer = signer
        self.provider = provider
        self.timeout_s = timeout_s
        self._native = NativeSigner(signer)
        #: signatures run here so that a signer (an HSM, a KMS over the network) that hangs costs
        #: the request its deadline, not the gateway a thread per request forever
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="assay-signer")
        self._reader = ManifestReader()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    @property
    def development(self) -> bool:
        """True when signing with a generated development certificate (``/readyz`` warns)."""
        return bool(self.signer.development)

    def probe(self) -> None:
        """Sign and read back a tiny image: proves at start-up that the signer works end to end."""
        from PIL import Image

        data = encode_image(Image.new("RGB", (16, 16), (128, 128, 128)), "png")
        manifest = {
            "claim_generator_info": [{"name": "Assay"}],
            "title": "probe.png",
            "format": "image/png",
            "assertions": [
                {
                    "label": "c2pa.actions.v2",
                    "data": {
                        "actions": [
                            {
                                "action": "c2pa.created",
                                "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                            }
                        ]
                    },
                }
            ],
        }
        try:
            signed = self._native.sign(manifest, "image/png", data)
        except SigningError as exc:
            raise ConfigError(
                f"the signer cannot sign: {exc.message}", param="ASSAY_SIGNING_CERT", hint=exc.hint
            ) from exc
        reading = self._reader.read(signed.data, "png")
        if reading.state not in ("valid", "trusted"):
            codes = ", ".join(f.code for f in reading.failures) or reading.error or reading.state
            hint = "the certificate must be a C2PA claim-signing certificate issued by a CA (not self-signed)"
            leaf = getattr(getattr(self.signer, "creds", None), "leaf", None)
            if leaf is not None and not has_common_eku(leaf):
                hint += "; its extended key usage should include emailProtection or documentSigning"
            raise ConfigError(
                f"a probe manifest signed with the configured certificate does not validate: {codes}",
                param="ASSAY_SIGNING_CERT",
                hint=hint,
            )

    def _sign_within(
        self, manifest: dict[str, Any], media_type: str, data: bytes, ingredients: list[Any]
    ) -> Any:
        """Sign, or fail closed with a :class:`SigningError` once ``timeout_s`` has passed (the
        signer's call may still be running in its thread; its result is then dropped)."""
        fut = self._pool.submit(self._native.sign, manifest, media_type, data, ingredients=ingredients)
        try:
            return fut.result(timeout=self.timeout_s)
        except FutureTimeout:
            fut.cancel()
            raise SigningError(
                f"the signer did not answer within {self.timeout_s:g} s; nothing was released",
                hint="check the HSM/KMS behind ASSAY_SIGNING_KEY; ASSAY_SIGNING_TIMEOUT_S sets the limit",
            ) from None

    def apply(self, artifact: Artifact, ctx: MarkContext) -> Artifact:
        opts = typed_options(ctx.options, C2paOptions)
        now = self._clock()
        if now >= self.signer.not_after:
            raise SigningError(
                f"the signing certificate expired on {self.signer.not_after.isoformat()}",
                hint="renew ASSAY_SIGNING_CERT and restart the gateway; nothing unsigned is released",
            )
        try:
            packet = build_packet(artifact.xmp) if artifact.xmp else None
        except XmpError as exc:
            raise MarkError(f"c2pa: {exc.message}", hint=exc.hint) from exc
        data = encode_image(artifact.image, artifact.format, packet)
        ingredients = []
        with_input = ctx.edit and ctx.input_image is not None
        if with_input:  # the edit's input: the parent of the released image
            assert ctx.input_image is not None
            ingredients.append(
                (
                    {"title": "input.png", "relationship": "parentOf", "label": INGREDIENT_LABEL},
                    "image/png",
                    encode_image(ctx.input_image, "png"),
                )
            )
        if ctx.control_image is not None:  # a control input: an input to the model, not a parent
            ingredients.append(
                (
                    {
                        "title": f"control-{ctx.control_type or 'image'}.png",
                        "relationship": "inputTo",
                        "label": CONTROL_LABEL,
                    },
                    "image/png",
                    encode_image(ctx.control_image, "png"),
                )
            )
        manifest = build_manifest(
            artifact,
            ctx,
            provider=self.provider,
            include_prompt=opts.prompt == "policy",
            edit_with_ingredient=with_input,
            control_ingredient=ctx.control_image is not None,
        )
        signed = self._sign_within(manifest, artifact.media_type, data, ingredients)
        label = None
        if opts.self_check:
            reading = self._reader.read(signed.data, artifact.format)
            if reading.state not in ("valid", "trusted"):
                codes = ", ".join(f.code for f in reading.failures) or reading.error or reading.state
                raise SigningError(f"the signed image does not validate ({codes}); it was not released")
            label = reading.manifest_label
        artifact.data = signed.data
        artifact.facts[self.name] = C2paFacts(
            manifest_digest=signed.manifest_digest,
            manifest_label=label,
            signer=getattr(self.signer, "subject", None),
            alg=self.signer.alg,
            development_certificate=self.signer.development,
            file_sha256=_sha256(signed.data),
        ).to_body()
        return artifact


def _sha256(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def build(settings: Any) -> C2paMark:
    """Factory for the mark registry: the process's signer, checked and probed at start-up."""
    signer = process_signer(settings)
    mark = C2paMark(
        signer,
        provider=getattr(settings, "provider_name", "Assay"),
        timeout_s=float(getattr(settings, "signing_timeout_s", 30.0)),
    )
    mark.probe()
    return mark


__all__ = ["C2paMark", "C2paOptions", "PemFileSigner", "Signer", "build"]
