"""What bias monitoring records about the people in each output (``outputs[i].people`` of a record).

Why it exists: ``assay report bias`` aggregates, per prompt group, model, tenant or period, who the
released outputs show; that needs each face's *perceived* attributes in the ledger, written at
generation time (the images themselves may be gone by the time an auditor asks). For every output
in which ``image.faces`` found faces, and only when the policy's ``bias_monitoring.record_perceived``
is on, :func:`perceived_people` runs :func:`safety.image.bias.face_demographics` with the faces
check's own options (so the detection it made is reused, not repeated) and returns typed
:class:`~provenance.ledger.bodies.PeopleFacts`: counts and perceived attributes, no crops, boxes or
embeddings. The prompt group is taken from the prompt here, so the report needs no prompt text.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from gateway.policy import Policy
from provenance.ledger.bodies import PeopleFacts, PerceivedFace
from safety.image.bias import face_demographics, prompt_group
from safety.image.faces import FaceOptions
from safety.verdict import TargetKind, Verdict

__all__ = ["perceived_people"]

FACES_CHECK = "image.faces"


def perceived_people(
    images: Sequence[Image.Image], verdicts: Sequence[Verdict], policy: Policy, prompt: str | None
) -> dict[int, PeopleFacts]:
    """People facts by output index, for the outputs ``image.faces`` found faces in (see module doc)."""
    if not policy.bias_monitoring.record_perceived:
        return {}
    step = next((s for s in policy.checks.for_target(TargetKind.OUTPUT_IMAGE) if s.name == FACES_CHECK), None)
    if step is None:
        return {}
    opts = step.parsed if isinstance(step.parsed, FaceOptions) else FaceOptions()
    with_faces = sorted(
        {
            v.target.index
            for v in verdicts
            if v.check == FACES_CHECK
            and v.target.kind is TargetKind.OUTPUT_IMAGE
            and v.target.index is not None
        }
    )
    group = prompt_group(prompt or "")
    out: dict[int, PeopleFacts] = {}
    for i in with_faces:
        if not 0 <= i < len(images):
            continue
        faces = face_demographics(images[i], faces=opts)
        out[i] = PeopleFacts(
            prompt_group=group,
            faces=len(faces),
            perceived=[
                PerceivedFace(
                    gender=f.gender,
                    gender_p=f.gender_p,
                    age_bracket=f.age_bracket,
                    ita=f.ita,
                    skin_tone=f.skin_tone,
                )
                for f in faces
            ],
        )
    return out
