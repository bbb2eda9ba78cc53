"""Tiny pipelines of every model family Assay serves, built from config with random weights.

Why it exists: the gateway must load each family from a folder with the real diffusers classes,
and the tests (and an operator trying a deployment without weights) need such folders without
touching a hub. diffusers' own tests build every family tiny (``get_dummy_components()``) but
fetch tokenizers from the hub; here the tokenizers are built in code as well (a byte-level CLIP
BPE, a T5 Unigram, a BERT WordPiece, a byte-level Qwen2 BPE, a SentencePiece BPE for ChatGLM
trained on a few in-code sentences), so nothing is downloaded.

Each builder writes ``pipeline.save_pretrained(folder)`` output: ``model_index.json``, one folder
per component, safetensors weights. The VAEs downsample 8x like the real ones, so a request at a
real size (256x256) runs the family's real code path (latent packing, RoPE, time shifting) on a
small latent and takes well under a second per step on a CPU. The images are noise: the builders
exist to prove loading, generation, edits, records and marks, never image quality.

Imports: diffusers, transformers, tokenizers, sentencepiece, torch (lazily, inside the builders); nothing from
the project but :mod:`models.testing`'s CLIP tokenizer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.testing import _byte_vocab, save_tiny_tokenizer

#: family -> the diffusers pipeline class its folder names in model_index.json
FAMILIES: dict[str, str] = {
    "sd": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline",
    "sd3": "StableDiffusion3Pipeline",
    "flux": "FluxPipeline",
    "cogview4": "CogView4Pipeline",
    "hunyuandit": "HunyuanDiTPipeline",
    "qwenimage": "QwenImagePipeline",
    "kolors": "KolorsPipeline",
}


def save_tiny(family: str, folder: str | Path, *, seed: int = 0) -> Path:
    """Write the tiny pipeline of ``family`` (a key of :data:`FAMILIES`) to ``folder``."""
    builders: dict[str, Callable[[Path, int], Path]] = {
        "sd": _sd,
        "sdxl": _sdxl,
        "sd3": _sd3,
        "flux": _flux,
        "cogview4": _cogview4,
        "hunyuandit": _hunyuandit,
        "qwenimage": _qwenimage,
        "kolors": _kolors,
    }
    if family not in builders:
        raise ValueError(f"unknown model family {family!r}; known: {', '.join(sorted(builders))}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return builders[family](folder, seed)


# --- tokenizers, built in code ----------------------------------------------------------------
def _clip_tokenizer(work: Path) -> Any:
    from transformers import CLIPTokenizer

    save_tiny_tokenizer(work / "_clip_tok")
    return CLIPTokenizer.from_pretrained(work / "_clip_tok")


_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _t5_tokenizer(work: Path) -> Any:
    """A T5 (Unigram, SentencePiece-style metaspace) tokenizer over letters and digits."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import T5TokenizerFast  # type: ignore[attr-defined]  # 5.x: a lazy alias of T5Tokenizer

    pieces = ["<pad>", "</s>", "<unk>", "▁"] + [p for c in _LETTERS for p in ("▁" + c, c)]
    tok = Tokenizer(Unigram([(p, -1.0) for p in pieces], unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        extra_ids=0,
        model_max_length=512,
    )


def _t5_vocab_size() -> int:
    return 4 + 2 * len(_LETTERS)


def _bert_tokenizer(work: Path) -> Any:
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_LETTERS, *("##" + c for c in _LETTERS)]
    path = work / "_bert_vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return BertTokenizer(str(path), model_max_length=77)


def _bert_vocab_size() -> int:
    return 5 + 2 * len(_LETTERS)


def _byte_bpe(special: list[str]) -> tuple[dict[str, int], Any]:
    """A byte-level BPE with no merges (every byte a token) plus ``special`` tokens."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    from models.testing import _bytes_to_unicode

    vocab = {ch: i for i, ch in enumerate(_bytes_to_unicode().values())}
    for s in special:
        vocab[s] = len(vocab)
    tok = Tokenizer(BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return vocab, tok


_QWEN_SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]


def _qwen_tokenizer(work: Path) -> Any:
    from transformers import Qwen2TokenizerFast  # type: ignore[attr-defined]  # 5.x: a lazy alias

    _vocab, tok = _byte_bpe(_QWEN_SPECIAL)
    qt = Qwen2TokenizerFast(
        tokenizer_object=tok,
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=1024,
    )
    qt.add_special_tokens({"additional_special_tokens": _QWEN_SPECIAL[1:]})
    return qt


def _glm_tokenizer(work: Path) -> Any:
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    vocab, tok = _byte_bpe(["<|endoftext|>", "[gMASK]", "<sop>"])
    # GLM-4 prefixes every text with "[gMASK]<sop>": an empty negative prompt is never an empty sequence
    tok.post_processor = processors.TemplateProcessing(
        single="[gMASK] <sop> $A", special_tokens=[("[gMASK]", vocab["[gMASK]"]), ("<sop>", vocab["<sop>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        model_max_length=1024,
        padding_side="left",
    )


#: what the ChatGLM tokenizer's SentencePiece model is trained on: English and Chinese, so that
#: both get pieces of their own; byte fallback covers every other character
_SPM_TEXT = (
    "a red circle on a white background",
    "a blue star over the sea at night",
    "a photo of a cat sitting on a wooden table",
    "the quick brown fox jumps over the lazy dog",
    "一只红色的猫坐在白色的桌子上",
    "山水画，夜晚的城市，蓝色的星星",
    "一张照片：海边的房子和树",
)


def _chatglm_tokenizer(work: Path) -> Any:
    """A ChatGLM tokenizer over a SentencePiece BPE trained here (deterministic: one thread)."""
    import io

    import sentencepiece as spm
    from diffusers.pipelines.kolors import ChatGLMTokenizer

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_SPM_TEXT),
        model_writer=model,
        model_type="bpe",
        vocab_size=340,  # 256 byte pieces, 3 meta pieces, the text's characters and some merges
        byte_fallback=True,
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
    )
    path = work / "_chatglm_tokenizer.model"
    path.write_bytes(model.getvalue())
    return ChatGLMTokenizer(str(path))


def _tiny_vae(latent_channels: int = 4, **kw: Any) -> Any:
    """An AutoencoderKL that downsamples 8x (four blocks) with few channels."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=latent_channels,
        block_out_channels=(4, 4, 4, 4),
        layers_per_block=1,
        norm_num_groups=2,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        sample_size=64,
        **kw,
    )


def _clip_config(**kw: Any) -> Any:
    from transformers import CLIPTextConfig

    args: dict[str, Any] = dict(
        bos_token_id=0,
        eos_token_id=2,
        hidden_size=32,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=2,
        pad_token_id=1,
        vocab_size=len(_byte_vocab()),
        hidden_act="gelu",
        projection_dim=32,
        max_position_embeddings=77,
    )
    args.update(kw)
    return CLIPTextConfig(**args)


def _t5_encoder(d_model: int = 32) -> Any:
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(
        T5Config.from_dict(
            dict(
                vocab_size=_t5_vocab_size(),
                d_model=d_model,
                d_kv=8,
                d_ff=37,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
                decoder_start_token_id=0,
                pad_token_id=0,
                eos_token_id=1,
            )
        )
    )


def _save(pipe: Any, folder: Path) -> Path:
    pipe.save_pretrained(folder)
    for scratch in folder.glob("_*"):
        if scratch.is_dir():
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            scratch.unlink(missing_ok=True)
    return folder


# --- the families ------------------------------------------------------------------------------
def _sd(folder: Path, seed: int) -> Path:
    """SD 1.x with the cross-attention block first, as the real UNet (T2I-Adapters rely on it)."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=4,
        attention_head_dim=2,
    )
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=_tiny_vae(),
        text_encoder=CLIPTextModel(_clip_config()),
        tokenizer=_clip_tokenizer(folder),
        scheduler=DDIMScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            clip_sample=False,
            set_alpha_to_one=False,
            steps_offset=1,
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return _save(pipe, folder)


#: control kinds :func:`save_tiny_control` builds
CONTROL_KINDS = ("controlnet", "t2i-adapter")


def save_tiny_control(kind: str, base: str | Path, folder: str | Path, *, seed: int = 0) -> Path:
    """A ControlNet or T2I-Adapter that fits the tiny pipeline saved in ``base`` (random weights)."""
    import diffusers
    import torch

    base, folder = Path(base), Path(folder)
    index = describe(base)
    torch.manual_seed(seed)
    if "unet" in index:
        unet = diffusers.UNet2DConditionModel.from_pretrained(base / "unet")
        vae_blocks = len(json.loads((base / "vae" / "config.json").read_text())["block_out_channels"])
        if kind == "controlnet":  # the conditioning embedding downsamples as the VAE does
            embed = tuple(4 * 2 ** min(i, 2) for i in range(vae_blocks))
            model = diffusers.ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=embed)
            # a new ControlNet's output convolutions start at zero (no effect until trained): give
            # them random weights so that a test can see the control image reach the model
            for conv in [*model.controlnet_down_blocks, model.controlnet_mid_block]:
                torch.nn.init.normal_(conv.weight, std=0.2)
        elif kind == "t2i-adapter":
            model = diffusers.T2IAdapter(
                in_channels=3,
                channels=list(unet.config.block_out_channels),
                num_res_blocks=1,
                downscale_factor=2 ** (vae_blocks - 1),
                adapter_type="full_adapter",
            )
        else:
            raise ValueError(f"unknown control kind {kind!r}; known: {', '.join(CONTROL_KINDS)}")
    elif index.get("_class_name") == "FluxPipeline" and kind == "controlnet":
        cfg = json.loads((base / "transformer" / "config.json").read_text())
        model = diffusers.FluxControlNetModel(
            patch_size=cfg["patch_size"],
            in_channels=cfg["in_channels"],
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=cfg["attention_head_dim"],
            num_attention_heads=cfg["num_attention_heads"],
            joint_attention_dim=cfg["joint_attention_dim"],
            pooled_projection_dim=cfg["pooled_projection_dim"],
            axes_dims_rope=cfg["axes_dims_rope"],
        )
    else:
        raise ValueError(f"no tiny {kind} for {index.get('_class_name')}")
    model.save_pretrained(folder)
    return folder


def _sdxl_unet(pooled_dim: int, **extra: Any) -> Any:
    """The tiny SDXL-shaped UNet (SDXL, Kolors): micro-conditioning on six size ids (8 dims each)
    plus the pooled text embedding of ``pooled_dim``; ``extra`` adds e.g. Kolors' text projection."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        cross_attention_dim=64,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=8 * 6 + pooled_dim,
        norm_num_groups=4,
        **extra,
    )


def _sdxl(folder: Path, seed: int) -> Path:
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    unet = _sdxl_unet(pooled_dim=32)
    tokenizer = _clip_tokenizer(folder)
    pipe = StableDiffusionXLPipeline(
        vae=_tiny_vae(),
        text_encoder=CLIPTextModel(_clip_config()),
        text_encoder_2=CLIPTextModelWithProjection(_clip_config()),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            steps_offset=1,
            beta_schedule="scaled_linear",
            timestep_spacing="leading",
        ),
    )
    return _save(pipe, folder)


def _sd3(folder: Path, seed: int) -> Path:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(
        sample_size=32,
        patch_size=2,
        in_channels=16,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,
        joint_attention_dim=64,
        pooled_projection_dim=64,
        out_channels=16,
    )  # 16 latent channels, as SD3's own VAE: its inpainting pipeline refuses anything else
    tokenizer = _clip_tokenizer(folder)
    pipe = StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=_tiny_vae(
            16, shift_factor=0.0609, scaling_factor=1.5035, use_quant_conv=False, use_post_quant_conv=False
        ),
        text_encoder=CLIPTextModelWithProjection(_clip_config()),
        tokenizer=tokenizer,
        text_encoder_2=CLIPTextModelWithProjection(_clip_config()),
        tokenizer_2=tokenizer,
        text_encoder_3=_t5_encoder(d_model=64),
        tokenizer_3=_t5_tokenizer(folder),
    )
    return _save(pipe, folder)


def _flux(folder: Path, seed: int) -> Path:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
    )
    pipe = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=CLIPTextModel(_clip_config()),
        tokenizer=_clip_tokenizer(folder),
        text_encoder_2=_t5_encoder(d_model=32),
        tokenizer_2=_t5_tokenizer(folder),
        vae=_tiny_vae(
            shift_factor=0.0609, scaling_factor=1.5035, use_quant_conv=False, use_post_quant_conv=False
        ),
        transformer=transformer,
        image_encoder=None,
        feature_extractor=None,
    )
    return _save(pipe, folder)


def _cogview4(folder: Path, seed: int) -> Path:
    import torch
    from diffusers import CogView4Pipeline, CogView4Transformer2DModel, FlowMatchEulerDiscreteScheduler
    from transformers import GlmConfig, GlmModel

    torch.manual_seed(seed)
    tokenizer = _glm_tokenizer(folder)
    text_encoder = GlmModel(
        GlmConfig.from_dict(
            dict(
                hidden_size=32,
                intermediate_size=8,
                num_hidden_layers=2,
                num_attention_heads=4,
                head_dim=8,
                vocab_size=len(tokenizer),
                pad_token_id=tokenizer.pad_token_id,
            )
        )
    )
    transformer = CogView4Transformer2DModel(
        patch_size=2,
        in_channels=4,
        num_layers=2,
        attention_head_dim=4,
        num_attention_heads=4,
        out_channels=4,
        text_embed_dim=32,
        time_embed_dim=8,
        condition_dim=4,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        base_shift=0.25,
        max_shift=0.75,
        base_image_seq_len=256,
        use_dynamic_shifting=True,
        time_shift_type="linear",
    )
    pipe = CogView4Pipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=_tiny_vae(),
        transformer=transformer,
        scheduler=scheduler,
    )
    return _save(pipe, folder)


def _hunyuandit(folder: Path, seed: int) -> Path:
    import torch
    from diffusers import DDPMScheduler, HunyuanDiT2DModel, HunyuanDiTPipeline
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    transformer = HunyuanDiT2DModel(
        sample_size=32,
        num_layers=2,
        patch_size=2,
        attention_head_dim=8,
        num_attention_heads=3,
        in_channels=4,
        cross_attention_dim=32,
        cross_attention_dim_t5=32,
        pooled_projection_dim=16,
        hidden_size=24,
        activation_fn="gelu-approximate",
        text_len=77,
        text_len_t5=256,
    )
    bert = BertModel(
        BertConfig.from_dict(
            dict(
                vocab_size=_bert_vocab_size(),
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=37,
                max_position_embeddings=128,
            )
        )
    )
    pipe = HunyuanDiTPipeline(
        vae=_tiny_vae(),
        text_encoder=bert,
        tokenizer=_bert_tokenizer(folder),
        transformer=transformer,
        scheduler=DDPMScheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
        text_encoder_2=_t5_encoder(d_model=32),
        tokenizer_2=_t5_tokenizer(folder),
    )
    return _save(pipe, folder)


def _qwenimage(folder: Path, seed: int) -> Path:
    import torch
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImagePipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(seed)
    tokenizer = _qwen_tokenizer(folder)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _QWEN_SPECIAL}
    config = Qwen2_5_VLConfig.from_dict(
        dict(
            text_config={
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
                "vocab_size": len(tokenizer),
                "rope_theta": 1000000.0,
                "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            },
            vision_config={
                "depth": 2,
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_heads": 2,
                "out_hidden_size": 16,
            },
            hidden_size=16,
            vocab_size=len(tokenizer),
            vision_start_token_id=ids["<|vision_start|>"],
            vision_end_token_id=ids["<|vision_end|>"],
            vision_token_id=ids["<|image_pad|>"],
            image_token_id=ids["<|image_pad|>"],
            video_token_id=ids["<|video_pad|>"],
        )
    )
    text_encoder = Qwen2_5_VLForConditionalGeneration(config)
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=16,
        out_channels=4,
        num_layers=2,
        attention_head_dim=16,
        num_attention_heads=3,
        joint_attention_dim=16,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    # 8x down like the real VAE (three levels), so the 3D convolutions run on a small latent
    vae = AutoencoderKLQwenImage(
        base_dim=4,
        z_dim=4,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * 4,
        latents_std=[1.0] * 4,
    )
    pipe = QwenImagePipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )
    return _save(pipe, folder)


def _kolors(folder: Path, seed: int) -> Path:
    """Kolors: an SDXL-shaped UNet conditioned on ChatGLM through its text projection."""
    import torch
    from diffusers import EulerDiscreteScheduler, KolorsPipeline
    from diffusers.pipelines.kolors.text_encoder import ChatGLMConfig, ChatGLMModel

    torch.manual_seed(seed)
    tokenizer = _chatglm_tokenizer(folder)
    hidden = 32
    text_encoder = ChatGLMModel(
        ChatGLMConfig(
            num_layers=2,
            padded_vocab_size=tokenizer.vocab_size,  # the SentencePiece pieces and ChatGLM's specials
            hidden_size=hidden,
            ffn_hidden_size=37,
            kv_channels=8,
            num_attention_heads=4,
            seq_length=256,  # the pipeline pads every prompt to 256 tokens
            multi_query_attention=True,
            multi_query_group_num=2,
            original_rope=True,  # read by ChatGLMModel, not a ChatGLMConfig argument (ChatGLM3 sets it)
        )
    )
    # ChatGLMModel initialises nothing (its weights come from a checkpoint): what the constructor
    # leaves is uninitialised memory, NaN included, so the tiny one is initialised here
    with torch.no_grad():
        for name, param in text_encoder.named_parameters():
            if name.endswith("layernorm.weight"):
                torch.nn.init.ones_(param)
            elif name.endswith(".bias"):
                torch.nn.init.zeros_(param)
            else:
                torch.nn.init.normal_(param, std=0.02)
    unet = _sdxl_unet(
        pooled_dim=hidden,
        encoder_hid_dim_type="text_proj",  # ChatGLM's hidden states -> the cross-attention width
        encoder_hid_dim=hidden,
    )
    pipe = KolorsPipeline(
        vae=_tiny_vae(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.014,
            beta_schedule="scaled_linear",
            steps_offset=1,
            timestep_spacing="leading",
        ),
        image_encoder=None,
        feature_extractor=None,
    )
    return _save(pipe, folder)


def describe(folder: Path) -> dict[str, Any]:
    """The class names a saved folder's model_index.json lists (for error messages and tests)."""
    return dict(json.loads((Path(folder) / "model_index.json").read_text()))
