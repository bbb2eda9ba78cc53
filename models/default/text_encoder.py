"""The default model's text encoder: attribute-slot embeddings, saved and loaded by diffusers.

Why slots: the tokenizer (``tokenizer.py``) resolves a prompt into five attribute slots; this
encoder embeds each slot's id and mixes them into one vector of the UNet's time-embedding width,
which the UNet adds to its time embedding (``class_embed_type="identity"``), so every ResNet block
is modulated by every attribute. It also returns one token per slot, for UNets with
cross-attention. Id 0 in a slot means "not said"; all zeros is the unconditional
input used for classifier-free guidance. The slot vocabularies are stored in the config, so weights
trained for one concept list refuse to load against another.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from models.default.concepts import SLOT_VALUES, SLOTS, Attributes

__all__ = ["ModelMixin", "ShapesTextEncoder"]  # ModelMixin: diffusers looks up the loader class here


class ShapesTextEncoder(ModelMixin, ConfigMixin):  # type: ignore[misc]  # diffusers: config_name str vs None
    @register_to_config
    def __init__(
        self,
        slot_names: tuple[str, ...] = SLOTS,
        slot_values: dict[str, list[str]] | None = None,
        hidden_size: int = 64,
        pooled_size: int = 128,
    ) -> None:
        super().__init__()
        values = slot_values or {k: list(v) for k, v in SLOT_VALUES.items()}
        self.register_to_config(slot_names=list(slot_names), slot_values=values)  # explicit in config.json
        embeddings = [nn.Embedding(len(values[s]) + 1, hidden_size) for s in slot_names]
        self.embeddings = nn.ModuleList(embeddings)
        self.slot_embedding = nn.Parameter(torch.zeros(len(slot_names), hidden_size))
        self.norm = nn.LayerNorm(hidden_size)
        self.pool = nn.Sequential(
            nn.Linear(hidden_size * len(slot_names), pooled_size),
            nn.SiLU(),
            nn.Linear(pooled_size, pooled_size),
        )
        for emb in embeddings:
            nn.init.normal_(emb.weight, std=0.5)

    def check_concepts(self) -> None:
        """Raise ValueError if these weights were trained for another concept list than the code's."""
        current = {k: list(v) for k, v in SLOT_VALUES.items()}
        saved = {k: list(v) for k, v in self.config["slot_values"].items()}
        if tuple(self.config["slot_names"]) != SLOTS or saved != current:
            raise ValueError(
                "the default model's weights were trained for another concept list than "
                "models/default/concepts.py defines: retrain them or restore the matching code"
            )

    @staticmethod
    def ids_for(attributes: list[Attributes]) -> torch.Tensor:
        return torch.tensor([a.slot_ids() for a in attributes], dtype=torch.long)

    def forward(self, slot_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``slot_ids (B, 5)`` -> ``(tokens (B, 5, hidden), pooled (B, pooled_size))``."""
        parts = [emb(slot_ids[:, i]) for i, emb in enumerate(self.embeddings)]
        tokens = torch.stack(parts, dim=1) + self.slot_embedding
        pooled = self.pool(torch.cat(parts, dim=-1))
        return self.norm(tokens), pooled
