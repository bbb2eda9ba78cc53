"""Fakes for tests and benchmarks (no hub, no download): tiny diffusers pipelines built from config,
:class:`PhotoBackend`, a backend that answers in milliseconds, and the faulty models of the fault
tests: :class:`SlowSteps` (a real pipeline made slow per denoising step), :class:`HangingBackend`
(never answers on its own) and :class:`FaultyBackend` (wrong answers of each kind).

The tiny pipelines are like diffusers' own ``get_dummy_components()``, but the tokenizer is written
locally too (a byte-level CLIP vocabulary with no merges), so nothing touches a hub.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from models.base import GenerationRequest, GenerationResult, ModelInfo


class PhotoBackend:
    """A :class:`~models.base.Backend` that "generates" seeded crops of scikit-image's sample photos.

    For tests of what happens *around* a backend (faults, review, records, load): the tiny
    random-weight diffusion model costs seconds per image on a busy two-core machine, this costs
    milliseconds, and real photographs give the watermark, the pHash index, the C2PA reader and a
    reviewer's page the texture of a real output. Deterministic: the same request (seed, size, n)
    gives the same pixels. Text-to-image crops one of ``photos`` (names of ``skimage.data``
    images; ``("astronaut",)`` where every output must show a face) per seed and image index;
    edits (image-to-image, inpainting) return the input image, less saturated per image index.
    Needs scikit-image (the ``dev`` extra).
    """

    def __init__(
        self, *, photos: tuple[str, ...] = ("astronaut", "coffee", "chelsea"), model_id: str = "test-photo"
    ) -> None:
        from PIL import Image
        from skimage import data

        self.model_id = model_id
        self._photos = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in photos]

    @property
    def info(self) -> ModelInfo:
        from models.base import ModelInfo

        return ModelInfo(
            backend="test", model_id=self.model_id, revision="1", weights_digest="sha256:" + "0" * 64
        )

    def check_request(self, request: GenerationRequest) -> None:
        return None

    def generate(self, request: GenerationRequest) -> GenerationResult:
        from PIL import Image, ImageEnhance

        from models.base import GenerationMode, GenerationResult

        seed = request.seed if request.seed is not None else 0
        images = []
        for i in range(request.n):
            if request.mode is GenerationMode.TXT2IMG or request.image is None:
                photo = self._photos[(seed + i) % len(self._photos)]
                off = (seed * 7 + i * 13) % 60
                side = min(photo.size) - 60
                img = photo.crop((off, off, off + side, off + side))
            else:
                img = ImageEnhance.Color(request.image.convert("RGB")).enhance(0.5 + 0.1 * i)
            images.append(img.resize((request.width, request.height), Image.Resampling.BICUBIC))
        model = self.info.model_copy(
            update={
                "seed": seed,
                "seeds": [seed + i for i in range(request.n)],
                "width": request.width,
                "height": request.height,
            }
        )
        return GenerationResult(images=images, model=model, elapsed_s=0.0)


class SlowSteps:
    """Makes a diffusers backend's denoiser sleep ``seconds`` before every step: a stand-in for a big
    model on a small machine, through the real pipeline, its step loop and its step callback.

    ``with SlowSteps(backend, 0.05): ...`` (or ``.start()`` / ``.stop()``). ``starts`` holds the
    monotonic time at which each forward pass of the denoiser began, so a test can tell how many
    steps an interrupted call still ran after its deadline.
    """

    def __init__(self, backend: Any, seconds: float) -> None:
        self.module = backend.pipe.unet
        self.seconds = seconds
        self.starts: list[float] = []
        self._handle: Any = None

    @property
    def calls(self) -> int:
        return len(self.starts)

    def after(self, t: float) -> int:
        """How many denoiser passes began after monotonic time ``t``."""
        return sum(1 for s in self.starts if s > t)

    def _hook(self, _module: Any, _args: Any) -> None:
        self.starts.append(time.monotonic())
        time.sleep(self.seconds)

    def start(self) -> SlowSteps:
        self._handle = self.module.register_forward_pre_hook(self._hook)
        return self

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def __enter__(self) -> SlowSteps:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SteppedBackend(PhotoBackend):
    """A slow model stand-in for load runs: sleeps ``step_s`` per denoising step (``steps`` of the
    request, else ``default_steps``), checking the request's deadline between steps as a real
    pipeline's step callback does, then answers like :class:`PhotoBackend`. Takes
    ``max_concurrency`` generations at once (an accelerator with that many streams)."""

    def __init__(self, *, step_s: float = 0.02, default_steps: int = 4, max_concurrency: int = 2, **kw: Any):
        super().__init__(**kw)
        self.step_s = step_s
        self.default_steps = default_steps
        self.max_concurrency = max_concurrency
        self.stopped_early = 0
        self._count_lock = threading.Lock()

    def generate(self, request: GenerationRequest) -> GenerationResult:
        deadline = request.deadline
        for _ in range(request.steps or self.default_steps):
            if deadline is not None and deadline.stopped:
                with self._count_lock:
                    self.stopped_early += 1
                raise deadline.error()
            time.sleep(self.step_s)
        return super().generate(request)


class HangingBackend(PhotoBackend):
    """A model that does not answer on its own. ``cooperative=True``: it stops when the request's
    deadline passes or is cancelled (as a backend that checks between steps does); ``False``: it
    ignores the deadline and hangs until :meth:`release` (a wedged driver), holding its one slot.
    Requests whose prompt does not contain ``hang_on`` are answered at once."""

    max_concurrency = 1

    def __init__(self, *, cooperative: bool = True, hang_on: str = "", **kw: Any) -> None:
        super().__init__(**kw)
        self.cooperative = cooperative
        self.hang_on = hang_on
        self.started = threading.Event()
        self.stopped = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()

    def release(self) -> None:
        self._release.set()

    def generate(self, request: GenerationRequest) -> GenerationResult:
        with self._lock:  # one generation at a time, like a pipeline under its lock
            if self.hang_on not in request.prompt:
                return super().generate(request)
            self.started.set()
            try:
                while not self._release.wait(0.01):
                    if self.cooperative and request.deadline is not None and request.deadline.stopped:
                        raise request.deadline.error()
                return super().generate(request)
            finally:
                self.stopped.set()


class FaultyBackend(PhotoBackend):
    """A model that answers wrongly in one way: ``fault`` is ``raises`` (a RuntimeError from the
    model's code), ``nan`` (the black frames NaN latents decode to), ``black``, ``wrong_size``,
    ``too_few`` (one image fewer than asked for) or ``none`` (answers correctly)."""

    FAULTS = ("raises", "nan", "black", "wrong_size", "too_few", "none")

    def __init__(self, fault: str, **kw: Any) -> None:
        if fault not in self.FAULTS:
            raise ValueError(f"fault must be one of {self.FAULTS}, not {fault!r}")
        super().__init__(**kw)
        self.fault = fault

    def generate(self, request: GenerationRequest) -> GenerationResult:
        import numpy as np
        from PIL import Image

        if self.fault == "raises":
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        result = super().generate(request)
        if self.fault in ("nan", "black"):
            arr = np.full((request.height, request.width, 3), np.nan if self.fault == "nan" else 0.0)
            frame = Image.fromarray(np.nan_to_num(arr * 255, nan=0.0).astype("uint8"))
            result.images = [frame.copy() for _ in result.images]
        elif self.fault == "wrong_size":
            result.images = [im.resize((request.width // 2 + 3, request.height // 2)) for im in result.images]
        elif self.fault == "too_few":
            result.images = result.images[:-1]
        return result


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def _byte_vocab() -> dict[str, int]:
    chars = list(_bytes_to_unicode().values())
    vocab = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(vocab)}


def save_tiny_tokenizer(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(_byte_vocab()))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)
    tok.save_pretrained(folder)


def save_tiny_sd(folder: str | Path, *, seed: int = 0, inpaint_channels: bool = False) -> Path:
    """Write a tiny Stable Diffusion 1.x-style pipeline (random weights) to ``folder``."""
    import torch

    # diffusers' top-level names are its dummy objects to a type checker: the classes from their modules
    from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline
    from diffusers.schedulers.scheduling_ddim import DDIMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=9 if inpaint_channels else 4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        norm_num_groups=4,
        attention_head_dim=2,
    )
    # four blocks: latents at 1/8 of the image, as Stable Diffusion's own VAE (a two-block VAE left
    # 1/2: at 512x512 its mid-block attention ran over 65,536 positions, ~40 s of CPU per image)
    vae = AutoencoderKL(
        block_out_channels=(8, 8, 16, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig.from_dict(
            dict(
                bos_token_id=0,
                eos_token_id=2,
                hidden_size=16,
                intermediate_size=32,
                layer_norm_eps=1e-05,
                num_attention_heads=2,
                num_hidden_layers=2,
                pad_token_id=1,
                vocab_size=len(_byte_vocab()),
                max_position_embeddings=77,
            )
        )
    )
    tok_dir = folder / "_tok"
    save_tiny_tokenizer(tok_dir)
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir)
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    # a dict: diffusers' hints name an enum for the scheduler and make the safety checker required
    components: dict[str, Any] = dict(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe = StableDiffusionPipeline(**components)
    pipe.save_pretrained(folder)
    import shutil

    shutil.rmtree(tok_dir, ignore_errors=True)
    return folder
