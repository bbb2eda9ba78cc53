"""The diffusers backend: any diffusers text-to-image model from a local folder or a hub id.

One pipeline is loaded once per process; image-to-image and inpainting reuse its components
through ``AutoPipelineFor*.from_pipe`` (no second copy of the weights). Diffusers pipelines are not
thread-safe, so calls are serialised with a lock (scale out with more workers, not threads).
Errors from torch/diffusers/huggingface_hub are translated to Assay errors here.

Each request may carry a :class:`core.deadline.Deadline`: waiting for the lock ends when it
passes, and a step callback (``callback_on_step_end``) interrupts the denoising loop once every
request of the call must stop, so an abandoned generation frees the model within one step.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from core.deadline import all_stopped
from core.errors import AssayError, BackendError, BackendTimeout, ConfigError, InvalidRequest, UnknownModel
from core.plugins import import_path
from models.base import GenerationMode, GenerationRequest, GenerationResult, ModelInfo
from models.control import (
    PREPROCESSORS,
    ControlModel,
    control_arguments,
    control_pipeline,
    load_control_model,
)
from models.default import PIPELINE_CLASSES
from models.digest import folder_digest

#: pipeline classes that are not part of diffusers, by the ``_class_name`` in model_index.json
CUSTOM_PIPELINES: dict[str, str] = dict(PIPELINE_CLASSES)


def pick_device(device: str) -> str:
    import torch

    if device != "auto":
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("ASSAY_DEVICE=cuda but no CUDA device is available")
        if device == "mps" and not torch.backends.mps.is_available():
            raise ConfigError("ASSAY_DEVICE=mps but MPS is not available")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        return torch.float16 if device == "cuda" else torch.float32
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


def resolve_model_path(model: str, *, revision: str | None = None) -> tuple[Path, str | None]:
    """A local folder as is; a hub id through the local Hugging Face cache (offline respected).

    Returns (folder, revision): the hub commit hash for hub snapshots, None for plain folders.
    """
    p = Path(model).expanduser()
    if p.exists():
        if not (p / "model_index.json").is_file():
            raise UnknownModel(
                f"{p} is not a diffusers pipeline folder (no model_index.json)",
                hint="point ASSAY_MODEL at a folder saved with pipeline.save_pretrained()",
            )
        return p.resolve(), None
    if model.count("/") != 1 or model.startswith((".", "/")):
        raise UnknownModel(f"model {model!r} is neither a local folder nor a hub id (owner/name)")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
        try:
            folder = snapshot_download(model, revision=revision, local_files_only=True)
        except LocalEntryNotFoundError:
            if offline:
                raise
            folder = snapshot_download(model, revision=revision)
    except Exception as exc:  # noqa: BLE001 - hub errors come in many classes
        raise UnknownModel(
            f"weights for {model!r} are not available locally and cannot be downloaded: "
            f"{exc.__class__.__name__}",
            hint="download them where a network is allowed (huggingface-cli download), "
            "or set ASSAY_MODEL to a local folder",
        ) from exc
    return Path(folder), Path(folder).name


#: short names of the samplers an operator picks with ASSAY_SAMPLER
SAMPLERS: dict[str, str] = {
    "lcm": "LCMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler-a": "EulerAncestralDiscreteScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "ddim": "DDIMScheduler",
    "unipc": "UniPCMultistepScheduler",
    "heun": "HeunDiscreteScheduler",
    "pndm": "PNDMScheduler",
    "flow-euler": "FlowMatchEulerDiscreteScheduler",
}


def sampler_scheduler(pipe: Any, sampler: str) -> Any:
    """The scheduler ``sampler`` (a short name or a diffusers class name) built from the pipeline's
    scheduler config. Refused across the two kinds of model: a flow-matching model (SD3, FLUX,
    CogView4, Qwen-Image) only takes flow-matching samplers, a noise-prediction model (SD, SDXL,
    HunyuanDiT) only discrete-time ones (LCM included: diffusers does not list it as compatible, but
    it is how LCM-distilled weights and LCM-LoRA are sampled)."""
    import diffusers

    current = getattr(pipe, "scheduler", None)
    if current is None:
        raise ConfigError(
            f"ASSAY_SAMPLER={sampler}: this pipeline has no scheduler to replace", param="ASSAY_SAMPLER"
        )
    cls_name = SAMPLERS.get(sampler.lower(), sampler)
    cls = getattr(diffusers, cls_name, None)
    if cls is None or not cls_name.endswith("Scheduler"):
        raise ConfigError(
            f"ASSAY_SAMPLER={sampler} is not a diffusers scheduler",
            param="ASSAY_SAMPLER",
            hint=f"short names: {', '.join(SAMPLERS)}; or a class name such as DPMSolverMultistepScheduler",
        )
    flow = type(current).__name__.startswith("FlowMatch")
    if cls_name.startswith("FlowMatch") != flow:
        kind = "flow-matching" if flow else "noise-prediction"
        raise ConfigError(
            f"ASSAY_SAMPLER={sampler}: {cls_name} cannot sample this {kind} model "
            f"(its scheduler is {type(current).__name__})",
            param="ASSAY_SAMPLER",
            hint="flow-matching models take flow-euler; the others lcm, euler, euler-a, dpm++, ddim, "
            "unipc, heun, pndm",
        )
    return cls.from_config(current.config)


#: pipeline components that are adapters on the base model, by the name diffusers gives them
_ADAPTER_COMPONENTS = {"controlnet": "controlnet", "adapter": "t2i-adapter", "image_encoder": "ip-adapter"}


def pipeline_adapters(pipe: Any) -> list[str]:
    """``kind:ClassName`` for each adapter component the pipeline was loaded with, and
    ``lora:<name>`` for each LoRA adapter it holds (the record names every one)."""
    found = []
    components = getattr(pipe, "components", {}) or {}
    for name, kind in _ADAPTER_COMPONENTS.items():
        comp = components.get(name)
        if comp is not None:
            found.append(f"{kind}:{type(comp).__name__}")
    get_list = getattr(pipe, "get_list_adapters", None)
    if callable(get_list):
        try:
            names = sorted({a for adapters in get_list().values() for a in adapters})
        except (ValueError, AttributeError, ImportError):  # no PEFT backend: no LoRA either
            names = []
        found += [f"lora:{n}" for n in names]
    return found


def _used_adapters(pipe: Any, control: ControlModel | None, strength: float) -> list[str]:
    """The adapters of one call: the pipeline's, with the control model named by its type and strength."""
    found = pipeline_adapters(pipe)
    if control is None:
        return found
    return [a for a in found if not a.startswith(control.kind + ":")] + [
        f"{control.label} strength {strength:g}"
    ]


def _own_control_label(pipe: Any, control_type: str) -> str:
    """How the record names a control a pipeline serves itself: ``layout:TYPE:PipelineClass``."""
    return f"layout:{control_type}:{type(pipe).__name__}"


def _takes_images(pipe: Any, mode: GenerationMode) -> bool:
    """A custom pipeline (not a diffusers class) whose own ``__call__`` edits: ``image`` for
    img2img, and ``mask_image`` too for inpainting."""
    import inspect

    if type(pipe).__module__.startswith("diffusers.") or mode is GenerationMode.TXT2IMG:
        return False
    params = inspect.signature(pipe.__call__).parameters
    return "image" in params and (mode is GenerationMode.IMG2IMG or "mask_image" in params)


def size_multiple(pipe: Any) -> int:
    """What width and height must be multiples of: the VAE's downsampling, times 2 for transformer
    families, which cut the latent into 2x2 patches (SD3, FLUX, CogView4, HunyuanDiT, Qwen-Image)."""
    factor = int(getattr(pipe, "vae_scale_factor", 8) or 8)
    multiple = factor * 2 if getattr(pipe, "transformer", None) is not None else factor
    return max(8, multiple)  # diffusers' own checks ask for multiples of 8 whatever the VAE


def _pipeline_class_name(folder: Path) -> str:
    try:
        return str(json.loads((folder / "model_index.json").read_text())["_class_name"])
    except (OSError, ValueError, KeyError) as exc:
        raise UnknownModel(f"{folder}/model_index.json is unreadable: {exc}") from exc


class DiffusersBackend:
    """See module docstring. ``placeholder`` marks a random-weight stand-in in every ModelInfo."""

    name = "diffusers"

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        revision: str | None = None,
        default_steps: int | None = None,
        sampler: str | None = None,
        model_id: str | None = None,
        placeholder: bool = False,
        cache_dir: Path | None = None,
        notes: list[str] | None = None,
        controls: dict[str, Path] | None = None,
    ) -> None:
        import torch
        from diffusers.utils import logging as dlogging

        dlogging.disable_progress_bar()
        self.folder, hub_revision = resolve_model_path(model, revision=revision)
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.default_steps = default_steps
        self._lock = threading.Lock()
        cls_name = _pipeline_class_name(self.folder)
        try:
            if cls_name in CUSTOM_PIPELINES:
                cls = import_path(CUSTOM_PIPELINES[cls_name])
                pipe = cls.from_pretrained(self.folder, torch_dtype=self.dtype)
            else:
                from diffusers import AutoPipelineForText2Image, DiffusionPipeline

                try:
                    pipe = AutoPipelineForText2Image.from_pretrained(self.folder, torch_dtype=self.dtype)
                except ValueError:
                    pipe = DiffusionPipeline.from_pretrained(self.folder, torch_dtype=self.dtype)
            pipe = pipe.to(self.device)
        except (OSError, ValueError, RuntimeError, TypeError, ImportError, AttributeError) as exc:
            raise UnknownModel(f"cannot load diffusers pipeline from {self.folder}: {exc}") from exc
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        if sampler:
            pipe.scheduler = sampler_scheduler(pipe, sampler)
        self.pipe = pipe
        self._multiple = size_multiple(pipe)
        self._variants: dict[tuple[GenerationMode, str | None], Any] = {(GenerationMode.TXT2IMG, None): pipe}
        self._controls = {
            name: load_control_model(name, folder, dtype=self.dtype, device=self.device)
            for name, folder in (controls or {}).items()
        }
        digest = folder_digest(self.folder, cache_file=(cache_dir / "digests.json") if cache_dir else None)
        self._info = ModelInfo(
            backend=self.name,
            model_id=model_id or (model if not Path(model).exists() else self.folder.name),
            revision=revision or hub_revision or digest.split(":")[1][:12],
            weights_digest=digest,
            pipeline_class=type(pipe).__name__,
            scheduler=type(getattr(pipe, "scheduler", None)).__name__
            if getattr(pipe, "scheduler", None)
            else None,
            device=self.device,
            dtype=str(self.dtype).replace("torch.", ""),
            native_size=getattr(pipe, "native_size", None),
            resampler=getattr(pipe, "resampler", None),
            placeholder=placeholder,
            adapters=pipeline_adapters(pipe)
            + [c.label for c in self._controls.values()]
            + [_own_control_label(pipe, t) for t in self._own_controls(pipe)],
            notes=list(notes or []),
        )
        self._torch = torch

    @property
    def info(self) -> ModelInfo:
        return self._info

    # -- variants --------------------------------------------------------------------------------
    def _variant(self, mode: GenerationMode, control_type: str | None = None) -> Any:
        key = (mode, control_type)
        if key in self._variants:
            return self._variants[key]
        from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, AutoPipelineForText2Image

        auto = {
            GenerationMode.TXT2IMG: AutoPipelineForText2Image,
            GenerationMode.IMG2IMG: AutoPipelineForImage2Image,
            GenerationMode.INPAINT: AutoPipelineForInpainting,
        }[mode]
        what = mode.value + (f" with {control_type} control" if control_type else "")
        try:
            if control_type is None and _takes_images(self.pipe, mode):
                variant = self.pipe  # a pipeline of our own that edits in the same call (models/default)
            elif control_type is None:
                variant = auto.from_pipe(self.pipe)
            else:
                variant = control_pipeline(self.pipe, auto, self._controls[control_type])
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise InvalidRequest(
                f"model {self._info.model_id} ({self._info.pipeline_class}) does not support {what}",
                param="control_type" if control_type else "image",
            ) from exc
        if hasattr(variant, "set_progress_bar_config"):
            variant.set_progress_bar_config(disable=True)
        self._variants[key] = variant
        return variant

    def _own_controls(self, pipe: Any) -> list[str]:
        """Control types a pipeline of our own serves with no control model (``models/default``),
        where the operator named no control model for them."""
        if type(pipe).__module__.startswith("diffusers."):
            return []
        own = getattr(pipe, "control_types", ()) or ()
        return [str(t) for t in own if str(t) not in self._controls]

    @property
    def control_types(self) -> list[str]:
        """The control types this backend serves (``ASSAY_CONTROL_MODELS``, and the pipeline's own)."""
        return sorted({*self._controls, *self._own_controls(self.pipe)})

    def supports(self, mode: GenerationMode) -> bool:
        if mode is GenerationMode.TXT2IMG:
            return True
        try:
            with self._lock:
                self._variant(mode)
            return True
        except InvalidRequest:
            return False

    def check_request(self, request: GenerationRequest) -> None:
        multiple = self._multiple
        if request.width % multiple or request.height % multiple:
            raise InvalidRequest(
                f"size {request.width}x{request.height} is not supported by {self._info.model_id}: "
                f"width and height must be multiples of {multiple}",
                param="size",
            )
        if request.mode is not GenerationMode.TXT2IMG:
            if request.image is None:
                raise InvalidRequest(f"{request.mode.value} needs an input image", param="image")
            if request.mode is GenerationMode.INPAINT and request.mask is None:
                raise InvalidRequest("inpainting needs a mask", param="mask")
            if not self.supports(request.mode):
                raise InvalidRequest(
                    f"model {self._info.model_id} does not support {request.mode.value}", param="image"
                )
        if request.control_image is not None or request.control_type is not None:
            if request.control_image is None:
                raise InvalidRequest("control_type needs a control_image", param="control_image")
            own = self._own_controls(self.pipe)
            if request.control_type in own and request.control_type is not None:
                if request.mode is not GenerationMode.TXT2IMG:
                    raise InvalidRequest(
                        f"model {self._info.model_id} takes a {request.control_type} control image "
                        "with text-to-image only, not with an edit",
                        param="control_image",
                    )
                if not 0.0 <= request.control_strength <= 2.0:
                    raise InvalidRequest("control_strength must be in 0..2", param="control_strength")
                try:
                    self.pipe.check_control(request.control_image, request.control_type)
                except ValueError as exc:
                    raise InvalidRequest(str(exc), param="control_image") from None
                return
            if request.control_type not in self._controls:
                served = ", ".join(self.control_types) or "none (the operator sets ASSAY_CONTROL_MODELS)"
                raise InvalidRequest(
                    f"model {self._info.model_id} has no {request.control_type or '(unnamed)'} control model",
                    param="control_type",
                    hint=f"control types served: {served}",
                )
            if not 0.0 <= request.control_strength <= 2.0:
                raise InvalidRequest("control_strength must be in 0..2", param="control_strength")
            with self._lock:
                self._variant(request.mode, request.control_type)

    # -- generation ----------------------------------------------------------------------------
    def generate(self, request: GenerationRequest) -> GenerationResult:
        return self._run([request])[0]

    def generate_batch(self, requests: list[GenerationRequest]) -> list[GenerationResult | AssayError]:
        """Several requests, in as few pipeline calls as the pipeline allows; one outcome per request.

        Text-to-image requests of one size, step count and guidance (and all with or all without a
        negative prompt) share one call: their prompts and seeded generators are concatenated, so
        each image still comes from its own seed. Anything else runs on its own. A request that
        fails (bad input, or a failing call of its group) gets its error; the others still run.
        """
        outcomes: list[GenerationResult | AssayError | None] = [None] * len(requests)
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, req in enumerate(requests):
            try:
                self.check_request(req)
            except AssayError as exc:
                outcomes[i] = exc
                continue
            key: tuple[Any, ...] = (
                (i,)
                if req.mode is not GenerationMode.TXT2IMG or req.control_image is not None
                else (
                    "txt2img",
                    req.width,
                    req.height,
                    req.steps or self.default_steps,
                    req.guidance,
                    bool(req.negative_prompt),
                )
            )
            groups.setdefault(key, []).append(i)
        for members in groups.values():
            results: list[GenerationResult | AssayError]
            try:
                results = list(self._run([requests[i] for i in members]))
            except AssayError as exc:
                results = [exc] * len(members)
            for i, res in zip(members, results, strict=True):
                deadline = requests[i].deadline
                # a request that gave up while others of its call went on gets its own stop, no images
                outcomes[i] = deadline.error() if deadline is not None and deadline.stopped else res
        return [o for o in outcomes if o is not None]

    def _run(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """One pipeline call for ``requests`` (one request, or a group that :meth:`generate_batch` made)."""
        import secrets as _secrets

        torch = self._torch
        for request in requests:
            self.check_request(request)
        first = requests[0]
        seeds: list[list[int]] = []
        for request in requests:
            base_seed = request.seed if request.seed is not None else _secrets.randbelow(2**31)
            seeds.append([base_seed + i for i in range(request.n)])
        kwargs: dict[str, Any] = {
            "prompt": [r.prompt for r in requests for _ in range(r.n)],
            "generator": [torch.Generator(device="cpu").manual_seed(s) for ss in seeds for s in ss],
            "output_type": "pil",
        }
        steps = first.steps or self.default_steps
        if steps:
            kwargs["num_inference_steps"] = steps
        if first.guidance is not None:
            kwargs["guidance_scale"] = first.guidance
        if first.negative_prompt:
            kwargs["negative_prompt"] = [r.negative_prompt for r in requests for _ in range(r.n)]
        if first.mode is GenerationMode.TXT2IMG:
            kwargs.update(height=first.height, width=first.width)
        else:
            assert first.image is not None  # check_request refused a request without one
            kwargs["image"] = first.image.convert("RGB").resize((first.width, first.height))
            kwargs["strength"] = first.strength
            if first.mode is GenerationMode.INPAINT:
                assert first.mask is not None  # likewise
                kwargs["mask_image"] = first.mask.convert("L").resize((first.width, first.height))
                kwargs.update(height=first.height, width=first.width)
        control = self._controls.get(first.control_type or "") if first.control_image is not None else None
        own_control = (
            first.control_type
            if first.control_image is not None
            and control is None
            and first.control_type in self._own_controls(self.pipe)
            else None
        )
        if own_control is not None:  # the pipeline's own control (models/default): its own arguments
            kwargs.update(
                control_image=first.control_image,
                control_type=own_control,
                control_strength=first.control_strength,
                height=first.height,
                width=first.width,
            )
        deadlines = [r.deadline for r in requests]
        t0 = time.perf_counter()
        if not self._lock.acquire(timeout=_lock_wait(deadlines)):
            raise _first_stop(requests, "waiting for the model")
        try:
            if all_stopped(deadlines):
                raise _first_stop(requests, "waiting for the model")
            pipe = self._variant(first.mode, control.control_type if control else None)
            if pipe is self.pipe and first.mode is not GenerationMode.TXT2IMG:  # our own editor
                kwargs.setdefault("height", first.height)
                kwargs.setdefault("width", first.width)
            if control is not None and first.control_image is not None:
                prepared = PREPROCESSORS[control.control_type](first.control_image)
                kwargs.update(
                    control_arguments(
                        pipe,
                        prepared.resize((first.width, first.height)),
                        first.control_strength,
                        has_input=first.mode is not GenerationMode.TXT2IMG,
                    )
                )
                kwargs.setdefault("height", first.height)
                kwargs.setdefault("width", first.width)
            watch = _StepWatch(pipe, deadlines)
            kwargs.update(watch.kwargs())
            with torch.inference_mode():
                out = pipe(**kwargs)
        except (InvalidRequest, BackendTimeout):
            raise
        except _Interrupted:
            out = None
        except TimeoutError as exc:
            raise BackendTimeout(f"generation timed out: {exc}") from exc
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            raise BackendError(f"diffusers pipeline failed: {exc.__class__.__name__}: {exc}") from exc
        finally:
            self._lock.release()
        if watch.nan_step is not None:
            raise BackendError(
                f"the model's latents became NaN at step {watch.nan_step + 1}: no image was produced",
                hint="run the model in float32 (ASSAY_DTYPE=float32) or check its weights",
            )
        if out is None or all_stopped(deadlines):
            raise _first_stop(requests, f"the generation (stopped after step {watch.steps_done})")
        elapsed = time.perf_counter() - t0
        images = [im.convert("RGB") for im in out.images]
        native = {im.size for im in images if im.size != (first.width, first.height)}
        size_notes = [
            f"{type(pipe).__name__} generated {w}x{h} (its supported resolutions), resized to "
            f"{first.width}x{first.height}"
            for w, h in sorted(native)
        ]
        images = [
            im if im.size == (first.width, first.height) else im.resize((first.width, first.height))
            for im in images
        ]
        sched = getattr(pipe, "scheduler", None)
        call_notes = list(getattr(out, "notes", None) or [])
        results: list[GenerationResult] = []
        start = 0
        for request, ss in zip(requests, seeds, strict=True):
            notes = list(self._info.notes) + size_notes
            if len(requests) == 1:
                notes += call_notes
            else:  # never another request's notes: they may quote its prompt
                notes += _request_notes(pipe, request, call_notes)
                notes.append(f"generated in one pipeline call with {len(requests) - 1} other request(s)")
            info = self._info.model_copy(
                update={
                    "pipeline_class": type(pipe).__name__,
                    "scheduler": type(sched).__name__ if sched is not None else None,
                    "seed": ss[0],
                    "seeds": ss,
                    "steps": steps or _default_steps(pipe),
                    "guidance": first.guidance if first.guidance is not None else _default_guidance(pipe),
                    "width": first.width,
                    "height": first.height,
                    "adapters": _used_adapters(pipe, control, first.control_strength)
                    + (
                        [f"{_own_control_label(pipe, own_control)} strength {first.control_strength:g}"]
                        if own_control is not None
                        else []
                    ),
                    "notes": list(dict.fromkeys(notes)),
                }
            )
            results.append(
                GenerationResult(images=images[start : start + request.n], model=info, elapsed_s=elapsed)
            )
            start += request.n
        if start != len(images):
            raise BackendError(f"the pipeline returned {len(images)} images for {start} asked for")
        return results


class _Interrupted(Exception):
    """Raised from the step callback of a pipeline that has no ``interrupt`` property."""


class _StepWatch:
    """The ``callback_on_step_end`` of one pipeline call: stops the denoising loop when every
    request of the call must stop (their deadlines passed or they were cancelled) and when the
    latents turn NaN, so an abandoned generation frees the model within one step.

    Diffusers pipelines check their ``interrupt`` property at the top of each step; setting
    ``_interrupt`` skips the remaining steps (diffusers' documented way to stop a call early).
    A pipeline without that property is stopped by raising from the callback instead.
    """

    def __init__(self, pipe: Any, deadlines: list[Any]) -> None:
        self.pipe = pipe
        self.deadlines = deadlines
        self.steps_done = 0
        self.nan_step: int | None = None
        self.supported = _accepts(pipe, "callback_on_step_end")
        self._tensors = (
            ["latents"]
            if "latents" in (getattr(pipe, "_callback_tensor_inputs", None) or ["latents"])
            else []
        )

    def kwargs(self) -> dict[str, Any]:
        if not self.supported:
            return {}
        out: dict[str, Any] = {"callback_on_step_end": self}
        if _accepts(self.pipe, "callback_on_step_end_tensor_inputs"):
            out["callback_on_step_end_tensor_inputs"] = self._tensors
        return out

    def __call__(
        self, pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        self.steps_done = step + 1
        latents = callback_kwargs.get("latents")
        if latents is not None and self.nan_step is None and bool(latents.isnan().any()):
            self.nan_step = step
        if self.nan_step is not None or all_stopped(self.deadlines):
            if hasattr(type(pipe), "interrupt"):
                pipe._interrupt = True
            else:
                raise _Interrupted()
        return callback_kwargs


def _accepts(pipe: Any, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(pipe.__call__).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def _lock_wait(deadlines: list[Any]) -> float:
    """How long a call may wait for the model: until the last of its requests must stop."""
    if not deadlines or any(d is None for d in deadlines):
        return -1
    longest = max(d.remaining() for d in deadlines)
    return -1 if longest == float("inf") else longest


def _first_stop(requests: list[GenerationRequest], what: str) -> BackendTimeout:
    for r in requests:
        if r.deadline is not None and r.deadline.stopped:
            return r.deadline.error(what)
    return BackendTimeout(f"{what} was stopped")


def _request_notes(pipe: Any, request: GenerationRequest, call_notes: list[str]) -> list[str]:
    """The notes of one request of a batched call: the pipeline's own per-prompt notes where it has
    them (``prompt_notes``), else none of the call's, which may belong to other requests."""
    per_prompt = getattr(pipe, "prompt_notes", None)
    if callable(per_prompt):
        return list(per_prompt(request.prompt, request.negative_prompt))
    if call_notes:
        return ["the pipeline's notes for this call are left out: they cannot be told apart per request"]
    return []


def _default_steps(pipe: Any) -> int | None:
    import inspect

    configured = getattr(getattr(pipe, "config", None), "default_steps", None)
    if isinstance(configured, int):
        return configured
    try:
        p = inspect.signature(pipe.__call__).parameters.get("num_inference_steps")
        return p.default if p is not None and isinstance(p.default, int) else None
    except (TypeError, ValueError):  # pragma: no cover
        return None


def _default_guidance(pipe: Any) -> float | None:
    import inspect

    configured = getattr(getattr(pipe, "config", None), "default_guidance", None)
    if isinstance(configured, (int, float)):
        return float(configured)
    try:
        p = inspect.signature(pipe.__call__).parameters.get("guidance_scale")
        return float(p.default) if p is not None and isinstance(p.default, (int, float)) else None
    except (TypeError, ValueError):  # pragma: no cover
        return None
