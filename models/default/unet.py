"""The default model's denoiser: a diffusers ``UNet2DModel`` on a space-to-depth view of the image.

Why this shape: on two shared CPU cores every convolution at 32x32 is expensive, so the 32x32 RGB
image is folded 2x2 into a 16x16 map of 12 channels (``pixel_unshuffle``, as DiT's patch size 2)
and two coordinate ramps are appended (CoordConv: "left"/"top" become easy to draw). The UNet
predicts the clean image (``prediction_type="sample"``) and is conditioned only through its time
embedding, to which the text encoder's pooled attribute vector is added.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# diffusers' top-level names are its dummy objects to a type checker: import from the defining modules
from diffusers.models.unets.unet_2d import UNet2DModel

PATCH = 2
COORD_CHANNELS = 2


def build_unet(native_size: int = 32, channels: tuple[int, ...] = (32, 64, 64)) -> UNet2DModel:
    return UNet2DModel(
        sample_size=native_size // PATCH,
        in_channels=3 * PATCH * PATCH + COORD_CHANNELS,
        out_channels=3 * PATCH * PATCH,
        block_out_channels=channels,
        down_block_types=["DownBlock2D"] * len(channels),
        up_block_types=["UpBlock2D"] * len(channels),
        layers_per_block=1,
        add_attention=False,
        norm_num_groups=16,
        class_embed_type="identity",
        resnet_time_scale_shift="scale_shift",
    )


def time_embed_dim(unet: UNet2DModel) -> int:
    return unet.config["block_out_channels"][0] * 4


def _coords(n: int, side: int, like: torch.Tensor) -> torch.Tensor:
    r = torch.linspace(-1.0, 1.0, side, dtype=like.dtype, device=like.device)
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([xx, yy]).expand(n, 2, side, side)


def denoise(unet: UNet2DModel, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """Predict the clean image from the noisy ``x (B, 3, H, W)`` at timesteps ``t`` given ``cond``."""
    folded = F.pixel_unshuffle(x, PATCH)
    inp = torch.cat([folded, _coords(x.shape[0], folded.shape[-1], folded)], dim=1)
    out = unet(inp, t, class_labels=cond).sample
    return F.pixel_shuffle(out, PATCH)
