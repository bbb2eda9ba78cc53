"""Convolutional code (constraint length 7) with puncturing and a soft-decision Viterbi decoder.

Why this code: the watermark channel hands the decoder *soft* values (a correlation per coded bit
whose size says how sure it is), and a convolutional code decoded by Viterbi uses that reliability
directly, which buys several dB over hard-decision block codes (BCH, Reed-Solomon) at this length.
The mother code is the industry-standard rate-1/2 (133, 171 octal) code; puncturing raises the
rate (the watermark uses 2/3, because every coded bit costs embedding energy, see
:mod:`provenance.watermark.embed`), and punctured positions enter the decoder as erasures. The
trellis is closed with K-1 zero tail bits so the decoder knows the start and end state.

Convention: coded bit ``c`` is sent as the symbol ``1 - 2c`` (bit 0 -> +1); a positive soft value
means "probably 0"; a zero soft value carries no information.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

CONSTRAINT = 7
MEMORY = CONSTRAINT - 1
N_STATES = 1 << MEMORY


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


@dataclass(frozen=True)
class ConvCode:
    """A K=7 convolutional code: generator polynomials (octal taps) and a puncturing pattern."""

    generators: tuple[int, ...] = (0o133, 0o171)
    #: keep-pattern over the mother code's output stream, repeated; None keeps everything
    puncture: tuple[int, ...] | None = (1, 1, 1, 0)

    def _keep(self, n_mother: int) -> np.ndarray:
        if not self.puncture:
            return np.ones(n_mother, dtype=bool)
        return np.resize(np.asarray(self.puncture, dtype=bool), n_mother)

    def coded_length(self, n_info: int) -> int:
        """Coded bits sent for ``n_info`` information bits (tail included, after puncturing)."""
        return int(self._keep(len(self.generators) * (n_info + MEMORY)).sum())

    @cached_property
    def _trellis(self) -> tuple[np.ndarray, np.ndarray]:
        """``symbols[s, b]``: output symbols (+-1) leaving state ``s`` on input ``b``;
        ``prev[ns, m]``: the predecessor of state ``ns`` whose oldest bit was ``m``."""
        k = len(self.generators)
        symbols = np.zeros((N_STATES, 2, k), dtype=np.float64)
        for s in range(N_STATES):
            for b in range(2):
                reg = (s << 1) | b  # seven bits: six previous inputs and the new one (LSB)
                symbols[s, b] = [1 - 2 * _parity(reg & g) for g in self.generators]
        prev = np.array([[(ns >> 1) | (m << (MEMORY - 1)) for m in range(2)] for ns in range(N_STATES)])
        return symbols, prev

    def encode(self, bits: np.ndarray) -> np.ndarray:
        """Encode 0/1 ``bits`` (the zero tail is appended here) into 0/1 coded bits."""
        bits = np.asarray(bits, dtype=np.uint8)
        k = len(self.generators)
        out = np.empty(k * (len(bits) + MEMORY), dtype=np.uint8)
        state = 0
        for t, b in enumerate(np.concatenate([bits, np.zeros(MEMORY, dtype=np.uint8)])):
            reg = (state << 1) | int(b)
            for j, g in enumerate(self.generators):
                out[k * t + j] = _parity(reg & g)
            state = reg & (N_STATES - 1)
        return out[self._keep(len(out))]

    def decode(self, soft: np.ndarray, n_info: int) -> np.ndarray:
        """Maximum-likelihood information bits for the soft symbols of one codeword."""
        soft = np.asarray(soft, dtype=np.float64)
        k = len(self.generators)
        steps = n_info + MEMORY
        keep = self._keep(k * steps)
        if soft.shape != (int(keep.sum()),):
            raise ValueError(f"expected {int(keep.sum())} soft values, got {soft.shape}")
        mother = np.zeros(k * steps)
        mother[keep] = soft
        symbols, prev = self._trellis
        branch = np.einsum("tk,sbk->tsb", mother.reshape(steps, k), symbols)
        ns = np.arange(N_STATES)
        b_of_ns = ns & 1
        p0, p1 = prev[:, 0], prev[:, 1]
        metric = np.full(N_STATES, -np.inf)
        metric[0] = 0.0
        decisions = np.zeros((steps, N_STATES), dtype=np.uint8)
        tail_ok = b_of_ns == 0
        for t in range(steps):
            c0 = metric[p0] + branch[t, p0, b_of_ns]
            c1 = metric[p1] + branch[t, p1, b_of_ns]
            choose1 = c1 > c0
            decisions[t] = choose1
            metric = np.where(choose1, c1, c0)
            if t >= n_info:  # the tail: only input 0 is allowed
                metric = np.where(tail_ok, metric, -np.inf)
        bits = np.zeros(steps, dtype=np.uint8)
        state = 0
        for t in range(steps - 1, -1, -1):
            bits[t] = state & 1
            state = int(prev[state, decisions[t, state]])
        return bits[:n_info]
