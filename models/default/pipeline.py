"""``AssayShapesPipeline``: the default model as a diffusers pipeline.

Why a real ``DiffusionPipeline``: the gateway loads the default model through the same diffusers
backend and ``from_pretrained`` code path as SDXL or FLUX, so its folder is an ordinary pipeline
folder (``model_index.json`` + ``unet/`` + ``text_encoder/`` + ``scheduler/``). The text encoder is
a custom ``ModelMixin`` that diffusers imports by library name (``models.default.text_encoder``).
The tokenizer is the rule-based parser in ``tokenizer.py`` (code, not weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

# diffusers' top-level names are its dummy objects to a type checker: import from the defining modules
from diffusers.models.unets.unet_2d import UNet2DModel
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.schedulers.scheduling_dpmsolver_multistep import DPMSolverMultistepScheduler
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image, ImageChops, ImageFilter

from models.default.concepts import Attributes
from models.default.control import (
    CONTROL_TYPES,
    control_region,
    layout_attributes,
    layout_image,
    outside,
    redo_share,
)
from models.default.text_encoder import ShapesTextEncoder
from models.default.tokenizer import parse_prompt
from models.default.unet import denoise

#: How outputs are brought from the native size to the requested size.
RESAMPLER = "bicubic, then unsharp mask (radius 1.5 px per native-size scale, 80%, threshold 2)"
NEGATIVE_PROMPT_NOTE = "negative_prompt ignored: the default model has no negative conditioning"


@dataclass
class ShapesPipelineOutput:
    #: per ``output_type``: "pil" PIL images, "np" arrays, "pt" one (n, 3, H, W) tensor in -1..1
    images: list[Image.Image] | list[np.ndarray] | torch.Tensor
    notes: list[str] = field(default_factory=list)
    attributes: list[Attributes] = field(default_factory=list)


class AssayShapesPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->unet"  # type: ignore[assignment]  # diffusers: untyped None

    def __init__(
        self,
        unet: UNet2DModel,
        text_encoder: ShapesTextEncoder,
        scheduler: DPMSolverMultistepScheduler,
        default_steps: int = 10,
        default_guidance: float = 2.0,
    ) -> None:
        super().__init__()
        self.register_modules(unet=unet, text_encoder=text_encoder, scheduler=scheduler)
        self.register_to_config(default_steps=default_steps, default_guidance=default_guidance)
        text_encoder.check_concepts()

    #: what a ``callback_on_step_end`` may read and replace (diffusers' convention)
    _callback_tensor_inputs = ["latents"]
    _interrupt = False

    @property
    def interrupt(self) -> bool:
        """Set ``_interrupt`` (from a step callback) to stop the denoising loop after this step."""
        return self._interrupt

    #: the control types this pipeline serves itself, with no control model (models/default/control.py)
    control_types: tuple[str, ...] = CONTROL_TYPES

    def check_control(self, control_image: Image.Image, control_type: str) -> None:
        """Raise ``ValueError`` naming the problem if ``control_image`` is no layout of ``control_type``."""
        control_region(control_image, control_type, self.native_size)

    @property
    def native_size(self) -> int:
        return int(self.unet.config["sample_size"]) * 2

    @property
    def resampler(self) -> str:
        return RESAMPLER

    def _encode(self, attributes: list[Attributes]) -> torch.Tensor:
        ids = ShapesTextEncoder.ids_for(attributes).to(self.unet.device)
        return self.text_encoder(ids)[1].to(self.unet.dtype)

    def _to_pil(self, x: torch.Tensor, height: int, width: int) -> list[Image.Image]:
        arr = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        out = []
        for a in arr:
            img = Image.fromarray(np.ascontiguousarray(a), "RGB")
            if (width, height) != img.size:
                img = img.resize((width, height), Image.Resampling.BICUBIC)
                scale = min(width, height) / self.native_size
                if scale > 1.5:
                    img = img.filter(ImageFilter.UnsharpMask(radius=1.5 * scale / 4, percent=80, threshold=2))
            out.append(img)
        return out

    def _from_pil(self, image: Image.Image, size: int) -> torch.Tensor:
        arr = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BOX), dtype=np.float32)
        t = torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0) / 127.5 - 1.0
        return t.to(self.unet.device, self.unet.dtype)

    def _mask(self, mask: Image.Image, size: int) -> torch.Tensor:
        """1 where the mask repaints (white), at native size: any repainted pixel marks its cell."""
        arr = np.asarray(mask.convert("L").resize((size, size), Image.Resampling.BOX), dtype=np.float32)
        m = torch.from_numpy((arr > 8).astype(np.float32))[None, None]
        return m.to(self.unet.device, self.unet.dtype)

    def prompt_notes(self, prompt: str, negative_prompt: str | None = None) -> list[str]:
        """The notes a call with this one prompt returns (a call with several prompts merges theirs)."""
        notes = list(parse_prompt(prompt).notes)
        if negative_prompt:
            notes.append(NEGATIVE_PROMPT_NOTE)
        return notes

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        *,
        num_images_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        height: int | None = None,
        width: int | None = None,
        negative_prompt: str | list[str] | None = None,
        output_type: str = "pil",
        callback_on_step_end: Callable[..., dict[str, Any]] | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
        image: Image.Image | None = None,
        mask_image: Image.Image | None = None,
        strength: float = 0.75,
        control_image: Image.Image | None = None,
        control_type: str | None = None,
        control_strength: float = 1.0,
    ) -> ShapesPipelineOutput:
        """Text-to-image; with ``image``, image-to-image (SDEdit: the input noised to ``strength``
        and denoised from there); with ``image`` and ``mask_image`` (white = repaint), inpainting:
        at every step the region outside the mask is set back to the input noised to that step
        (RePaint's known-region rule), and the released pixels outside the mask are the input's own.
        With ``control_image`` (text-to-image only), the shape goes where the control image says
        (``models/default/control.py``: a layout painted from it, denoised from its noised copy).
        """
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts:
            raise ValueError("prompt must be a string or a non-empty list of strings")
        if output_type not in ("pil", "pt", "np"):
            raise ValueError(f"output_type must be 'pil', 'pt' or 'np', not {output_type!r}")
        if num_images_per_prompt < 1:
            raise ValueError(f"num_images_per_prompt must be at least 1, not {num_images_per_prompt}")
        if (height is not None and height < 1) or (width is not None and width < 1):
            raise ValueError(f"height and width must be positive, not {height}x{width}")
        steps = int(num_inference_steps or self.config["default_steps"])
        guidance = float(self.config["default_guidance"] if guidance_scale is None else guidance_scale)
        size = self.native_size
        height, width = int(height or size), int(width or size)

        notes: list[str] = []
        attributes: list[Attributes] = []
        for p in prompts:
            parsed = parse_prompt(p)
            notes.extend(n for n in parsed.notes if n not in notes)
            attributes.extend([parsed.attributes] * num_images_per_prompt)
        if negative_prompt:
            notes.append(NEGATIVE_PROMPT_NOTE)
        n = len(attributes)

        if mask_image is not None and image is None:
            raise ValueError("mask_image needs an image to inpaint")
        if image is not None and not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], not {strength}")
        layout: torch.Tensor | None = None
        layout_keep: torch.Tensor | None = None  # 1 where the layout's background stays
        if control_image is not None:
            if image is not None:
                raise ValueError("the built-in model takes a control image with text-to-image only")
            if not 0.0 <= control_strength <= 2.0:
                raise ValueError(f"control_strength must be in 0..2, not {control_strength}")
            control_map = control_region(control_image, control_type or "segmentation", size)
            gens = generator if isinstance(generator, list) else [generator] * n
            attributes = [
                layout_attributes(a, np.random.default_rng(g.initial_seed() if g is not None else None))
                for a, g in zip(attributes, gens, strict=True)
            ]
            layout = torch.from_numpy(np.stack([layout_image(control_map, a) for a in attributes]))
            layout = layout.to(self.unet.device, self.unet.dtype)
            layout_keep = torch.from_numpy(outside(control_map))[None, None].expand(n, -1, -1, -1)
            layout_keep = layout_keep.to(self.unet.device, self.unet.dtype)
            strength = redo_share(control_strength)
            notes.append(
                f"control {control_type or 'segmentation'} (strength {control_strength:g}): the layout "
                f"sets position and size; denoised from it noised to {strength:.2f}"
            )
        cond = self._encode(attributes)
        uncond = self._encode([Attributes()] * n) if guidance != 1.0 else None
        x = randn_tensor(
            (n, 3, size, size), generator=generator, device=self.unet.device, dtype=self.unet.dtype
        )
        self.scheduler.set_timesteps(steps, device=self.unet.device)
        timesteps = self.scheduler.timesteps
        known: torch.Tensor | None = None  # the input at native size, in [-1, 1]
        keep: torch.Tensor | None = None  # 1 where the input is kept (outside the mask)
        noise = x
        if image is not None or layout is not None:
            if layout is not None:
                known, keep = layout, layout_keep
            else:
                assert image is not None
                known = self._from_pil(image, size).expand(n, -1, -1, -1)
            if mask_image is not None:
                keep = 1.0 - self._mask(mask_image, size).expand(n, -1, -1, -1)
            start = min(int(round(steps * (1.0 - strength))), steps - 1) if mask_image is None else 0
            timesteps = timesteps[start * self.scheduler.order :]
            if hasattr(self.scheduler, "set_begin_index"):
                self.scheduler.set_begin_index(start * self.scheduler.order)
            x = self.scheduler.add_noise(known, noise, timesteps[:1])
        else:
            x = x * self.scheduler.init_noise_sigma
        tensor_inputs = list(callback_on_step_end_tensor_inputs or ["latents"])
        if any(k not in self._callback_tensor_inputs for k in tensor_inputs):
            raise ValueError(
                f"callback_on_step_end_tensor_inputs must be among {self._callback_tensor_inputs}"
            )
        self._interrupt = False
        for i, t in enumerate(self.progress_bar(timesteps)):
            if self._interrupt:  # set by a step callback: the remaining steps are skipped
                break
            tt = t.expand(n)
            if uncond is None:
                pred = denoise(self.unet, x, tt, cond)
            else:
                both = denoise(self.unet, torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([uncond, cond]))
                pu, pc = both.chunk(2)
                pred = pu + guidance * (pc - pu)
            x = self.scheduler.step(pred, t, x).prev_sample
            if keep is not None and known is not None:
                after = timesteps[i + 1 : i + 2]
                at = self.scheduler.add_noise(known, noise, after) if len(after) else known
                x = keep * at + (1.0 - keep) * x
            if callback_on_step_end is not None:
                out = callback_on_step_end(self, i, t, {k: x for k in tensor_inputs})
                x = out.get("latents", x)

        if output_type == "pt":
            images = x.clamp(-1, 1)
            if (height, width) != (size, size):
                images = torch.nn.functional.interpolate(images, size=(height, width), mode="bicubic").clamp(
                    -1, 1
                )
            return ShapesPipelineOutput(images=images, notes=notes, attributes=attributes)
        pil = self._to_pil(x, height, width)
        if image is not None and mask_image is not None:  # outside the mask: the input's own pixels
            src = image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
            region = mask_image.convert("L").resize((width, height), Image.Resampling.BILINEAR)
            # feathered inwards only: a soft seam inside the mask, the input untouched outside it
            region = ImageChops.multiply(
                region, region.filter(ImageFilter.GaussianBlur(3)).point(lambda v: min(255, 2 * v))
            )
            pil = [Image.composite(p, src, region) for p in pil]
        if output_type == "np":
            return ShapesPipelineOutput(
                images=[np.asarray(i) for i in pil], notes=notes, attributes=attributes
            )
        return ShapesPipelineOutput(images=pil, notes=notes, attributes=attributes)


def build_pipeline(seed: int = 0, native_size: int = 32) -> AssayShapesPipeline:
    """The default model's architecture with fixed random weights (``seed``)."""
    from models.default.schedule import sampling_scheduler
    from models.default.unet import build_unet, time_embed_dim

    torch.manual_seed(seed)
    unet = build_unet(native_size)
    text_encoder = ShapesTextEncoder(pooled_size=time_embed_dim(unet))
    return AssayShapesPipeline(unet=unet, text_encoder=text_encoder, scheduler=sampling_scheduler())
