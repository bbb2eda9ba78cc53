"""Geometric resynchronisation for ``assay-wm2``: find the tile lattice of a marked pattern in an
edited copy, and fold the copy back into one tile along it.

The mark is one small keyed tile repeated over the whole image (see :mod:`.wm2`). Whatever
affine edit the copy went through (crop, rescale, aspect squeeze, rotation, flip, and a
perspective change small enough to be locally affine), the repetitions still sit on a lattice,
now spanned by two unknown vectors ``a`` and ``b``. That lattice shows in the autocorrelation of
the copy's noise residual as a grid of peaks (Kutter 1999; Alattar and Meyer's registration):

1. :func:`noise_residual`: the luma minus its local mean, turned down where the local variance
   is high. The photo's own content is mostly low-frequency and, where it is not (texture,
   edges), the scaling turns it down; the mark is a fixed-energy mid-frequency pattern, so it stays.
2. :func:`lattice_candidates`: the autocorrelation of that residual, computed through its power
   spectrum, which is first *flattened* (divided by a local average of itself): a periodic
   pattern is a set of spectral lines, the photo a smooth spectrum, so the flattening keeps the
   lines and drops the photo. JPEG's 8 px block grid is also a set of lines; they are notched.
   Peaks of the autocorrelation away from the origin are candidate lattice vectors; pairs of them
   are reduced (Lagrange-Gauss) to a short basis and scored by the peaks at the lattice points
   they predict. The best few bases (a photo's own periodic texture can make a lattice too) go
   on to the keyed check, which a lattice that is not the mark's fails.
3. :func:`fold_along`: warp the residual so that the basis becomes ``tile`` x ``tile`` pixels,
   and average all tile positions (with a mask for the parts of the frame the copy does not
   cover). The result is the mark's tile up to one of the 8 symmetries of a square lattice
   (:func:`dihedral_variants`: the basis is only known up to those) and a cyclic shift; the
   keyed pilot of :mod:`.layout` picks the symmetry and finds the shift.
4. For a perspective change, where no one lattice fits the whole copy: :func:`local_lattice`
   refines a lattice in a window of the copy (its local affine map), and
   :func:`fold_projective` folds the copy along one projective map fitted through the windows'
   maps (:mod:`.wm2`'s local fallback).

Imports: numpy and OpenCV only; :mod:`.wm2` uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

#: the autocorrelation is computed on the copy scaled so that its longer side is at most this
ACF_SIDE = 384
#: lattice vectors shorter than this share of the ACF frame's longer side are not considered
#: (the residual's own short-range correlation lives there; a mark padded to 1.6x of its size
#: still has periods of ~0.16 of the frame)
MIN_PERIOD = 0.09
#: ... and longer than this share of its shorter side (a crop keeping 40% of a side has ~0.63)
MAX_PERIOD = 0.66
PEAKS = 14  # autocorrelation peaks considered
CANDIDATES = 3  # lattices from pairs of peaks handed on to the keyed check
SQUARE_SEEDS, SQUARE_CANDIDATES = 10, 5  # square lattices grown from single peaks


@dataclass(frozen=True)
class Lattice:
    """A lattice basis in the copy's own pixels: columns ``a`` and ``b`` as (x, y) vectors."""

    basis: np.ndarray  # shape (2, 2), float64: [[ax, bx], [ay, by]]
    score: float  # sum of z-scores of the autocorrelation at the predicted lattice points

    @property
    def period(self) -> float:
        """Geometric mean of the two periods, in the copy's pixels."""
        return float(np.sqrt(abs(np.linalg.det(self.basis))))


def noise_residual(y: np.ndarray, window: int = 5, noise_var: float = 12.0) -> np.ndarray:
    """What the mark is seen through: a local Wiener-style residual of the float32 luma plane.

    ``y - local mean``, scaled down where the local variance exceeds ``noise_var`` (texture and
    edges, where the photo, not the mark, makes the residual). Measured on the benchmark photos,
    this gave ~2x the per-bit SNR of a plain high-pass and 1.3x that of a contrast-normalised one.
    """
    m = cv2.blur(y, (window, window))
    var = np.maximum(cv2.blur(y * y, (window, window)) - m * m, 0.0)
    return ((y - m) * (np.float32(noise_var) / np.maximum(var, np.float32(noise_var)))).astype(np.float32)


def _reduce(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lagrange-Gauss reduction: the shortest basis of the lattice spanned by ``a`` and ``b``."""
    for _ in range(16):
        if b @ b < 1e-9 or a @ a < 1e-9:
            break
        if a @ a > b @ b:
            a, b = b, a
        mu = round(float(a @ b) / float(a @ a))
        if mu == 0:
            break
        b = b - mu * a
    return a, b


def _flattened_acf(r: np.ndarray, jpeg_step: float) -> np.ndarray:
    """Autocorrelation (lags centred, float32) of ``r`` through its flattened power spectrum."""
    h, w = r.shape
    fh, fw = cv2.getOptimalDFTSize(2 * h), cv2.getOptimalDFTSize(2 * w)
    spec = np.fft.rfft2(r - r.mean(), s=(fh, fw))
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    local = cv2.blur(power, (9, 9)) + np.float32(1e-9)
    flat = np.minimum(power / local, np.float32(40.0))
    flat -= np.float32(1.0)  # the smooth part (and the photo) averages to zero
    ky = np.fft.fftfreq(fh)[:, None]
    kx = np.fft.rfftfreq(fw)[None, :]
    flat[(np.abs(ky) < 0.01) & (kx < 0.01)] = 0.0  # DC and the lowest frequencies: the photo
    if jpeg_step > 0:  # notch the JPEG block grid (lines at multiples of 1/8 of the copy's pixels)
        step = 1.0 / jpeg_step
        for axis_f, n in ((ky, fh), (kx, fw)):
            near = np.abs(axis_f / step - np.round(axis_f / step)) * step * n < 1.6
            near &= np.abs(axis_f) > 0.5 / n
            flat[np.broadcast_to(near, flat.shape)] = 0.0
    acf = np.fft.irfft2(flat, s=(fh, fw))
    return np.fft.fftshift(acf).astype(np.float32)


def lattice_candidates(y: np.ndarray, smooth: float = 0.0, cache: dict | None = None) -> list[Lattice]:
    """Candidate lattice bases of a periodic pattern in the float32 luma ``y``, best first.

    Two kinds: bases reduced from pairs of autocorrelation peaks (any affine map: aspect and
    shear included), and square bases grown from a single strong peak ``v`` as (v, v turned 90°).
    The second kind is what finds a small crop, where only the peaks along one axis (half the
    overlap of a full image at one period's lag) clear the noise; it assumes no aspect change.
    ``smooth`` (lags) blurs the autocorrelation first: under a perspective change each lattice
    peak is smeared over the range of local periods, and the blur gathers it into one. ``cache``
    keeps the autocorrelation between calls on the same ``y``."""
    h, w = y.shape
    f = min(1.0, ACF_SIDE / max(h, w))
    small = cv2.resize(y, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape
    if cache is not None and "acf" in cache:
        acf_full = cache["acf"]
    else:
        acf_full = _flattened_acf(noise_residual(small), 8.0 * f)
        if cache is not None:
            cache["acf"] = acf_full
    if smooth > 0:
        acf_full = cv2.GaussianBlur(acf_full, (0, 0), smooth)
    lo, hi = MIN_PERIOD * max(sh, sw), MAX_PERIOD * min(sh, sw)
    reach = int(np.ceil(max(hi, lo + 2) * 1.45)) + 3  # lags the scoring and refinement look at
    fh0, fw0 = acf_full.shape
    cy0, cx0 = fh0 // 2, fw0 // 2
    ry, rx = min(reach, cy0 - 1), min(reach, cx0 - 1)
    acf = acf_full[cy0 - ry : cy0 + ry + 1, cx0 - rx : cx0 + rx + 1]
    fh, fw = acf.shape
    cy, cx = ry, rx
    yy, xx = np.mgrid[-cy : fh - cy, -cx : fw - cx]
    rad = np.hypot(yy, xx)
    ring = (rad >= lo) & (rad <= max(hi, lo + 2))
    vals = acf[ring]
    if vals.size == 0:
        return []
    med = float(np.median(vals))
    noise = float(np.median(np.abs(vals - med))) * 1.4826 + 1e-12
    z = (acf - med) / noise
    z[~ring] = -np.inf
    peaks_mask = (z == cv2.dilate(z, np.ones((5, 5), np.uint8))) & (z > 3.0)
    half = (yy > 0) | ((yy == 0) & (xx > 0))
    py, px = np.nonzero(peaks_mask & half)
    if len(py) == 0:
        return []
    order = np.argsort(-z[py, px])[:PEAKS]
    pts = [np.array([float(xx[py[i], px[i]]), float(yy[py[i], px[i]])]) for i in order]

    def z_at(v: np.ndarray) -> float:
        ix, iy = int(round(v[0])) + cx, int(round(v[1])) + cy
        if not (1 <= ix < fw - 1 and 1 <= iy < fh - 1):
            return 0.0
        return float(np.max(z[iy - 1 : iy + 2, ix - 1 : ix + 2]))

    combos = [(1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2), (2, 1), (1, 2), (2, -1), (1, -2)]

    def score(a: np.ndarray, b: np.ndarray) -> float:
        total = 0.0
        for m, n in combos:
            v = m * a + n * b
            if lo <= np.hypot(*v) <= hi:
                total += max(-3.0, min(z_at(v), 40.0))
        return total

    found: list[Lattice] = []
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            a, b = _reduce(pts[i], pts[j])
            la, lb = float(np.hypot(*a)), float(np.hypot(*b))
            if la < lo or lb < lo or lb > 1.8 * la or abs(a[0] * b[1] - a[1] * b[0]) < 0.7 * la * lb:
                continue
            found.append(Lattice(basis=np.column_stack([a, b]), score=score(a, b)))
    squares = []
    for v in pts[:SQUARE_SEEDS]:
        q = np.array([-v[1], v[0]])
        squares.append(Lattice(basis=np.column_stack([v, q]), score=score(v, q)))
    found.sort(key=lambda c: -c.score)
    squares.sort(key=lambda c: -c.score)
    best: list[Lattice] = []
    for pool, limit in ((found, CANDIDATES), (squares, CANDIDATES + SQUARE_CANDIDATES)):
        for c in pool:
            if len(best) >= limit:
                break
            if not any(same_lattice(c.basis, k.basis) for k in best):
                best.append(c)
    out = []
    for c in best:
        refined = _refine(c.basis, acf, cy, cx, lo, hi)
        out.append(Lattice(basis=refined / f, score=c.score))
    return out


def same_lattice(b1: np.ndarray, b2: np.ndarray, *, atol: float | None = None) -> bool:
    """Whether two bases span the same lattice: b1^-1 b2 is an integer matrix of det +-1, each entry
    within ``atol`` of an integer (default: 3 px over the longer basis vector's largest entry)."""
    try:
        m = np.linalg.solve(b1, b2)
    except np.linalg.LinAlgError:
        return False
    tol = 3.0 / max(1.0, float(np.abs(b1).max())) if atol is None else atol
    ok = np.allclose(m, np.round(m), atol=tol)
    return bool(ok and abs(abs(round(float(np.linalg.det(np.round(m))))) - 1) == 0)


def _refine(
    basis: np.ndarray,
    acf: np.ndarray,
    cy: int,
    cx: int,
    lo: float,
    hi: float,
    radius: int = 2,
    tolerance: float = 0.08,
) -> np.ndarray:
    """Least-squares basis through the sub-pixel autocorrelation peaks near the predicted points
    (each looked for within ``radius`` lags of its prediction)."""
    fh, fw = acf.shape
    r = max(2, radius)
    rows, targets = [], []
    for m in range(-3, 4):
        for n in range(-3, 4):
            if (m, n) <= (0, 0) and not (m > 0 or (m == 0 and n > 0)):
                continue
            v = basis @ np.array([m, n], dtype=np.float64)
            if not (lo <= np.hypot(*v) <= hi * 1.4):
                continue
            ix, iy = int(round(v[0])) + cx, int(round(v[1])) + cy
            if not (r <= ix < fw - r and r <= iy < fh - r):
                continue
            win = acf[iy - r : iy + r + 1, ix - r : ix + r + 1]
            dy, dx = np.unravel_index(int(np.argmax(win)), win.shape)
            iy, ix = iy + int(dy) - r, ix + int(dx) - r
            if not (1 <= ix < fw - 1 and 1 <= iy < fh - 1):
                continue
            c0 = float(acf[iy, ix])

            def vertex(cm: float, cp: float, c0: float = c0) -> float:
                den = cm - 2.0 * c0 + cp
                return 0.0 if den >= 0 else float(np.clip(0.5 * (cm - cp) / den, -0.5, 0.5))

            sx = vertex(float(acf[iy, ix - 1]), float(acf[iy, ix + 1]))
            sy = vertex(float(acf[iy - 1, ix]), float(acf[iy + 1, ix]))
            rows.append((m, n))
            targets.append((ix - cx + sx, iy - cy + sy))
    if len(rows) < 3:
        return basis
    mn = np.array(rows, dtype=np.float64)
    xy = np.array(targets, dtype=np.float64)
    sol, *_ = np.linalg.lstsq(mn, xy, rcond=None)  # xy = mn @ sol, sol rows: a, b
    refined = sol.T
    # keep the refinement only if it stays close to what the peaks said (a bad peak can pull it)
    if np.abs(refined - basis).max() > tolerance * np.abs(basis).max():
        return basis
    return refined


def local_lattice(y: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """The lattice near ``basis`` (copy pixels) that a window ``y`` of the copy shows on its own.

    Under a perspective change the lattice is only locally affine: each window of the copy has
    its own basis, a few per cent away from the global estimate (a 5% corner move changes the
    local scale by up to ~10% across the image). The window's flattened autocorrelation is
    searched around the lattice points ``basis`` predicts, first within 8% of each lag, then
    within 2 lags of the refined prediction; ``basis`` comes back unchanged where the peaks
    do not agree on a basis within 12% of it."""
    h, w = y.shape
    f = min(1.0, ACF_SIDE / max(h, w))
    small = (
        y
        if f == 1.0
        else cv2.resize(y, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    )
    sh, sw = small.shape
    acf = _flattened_acf(noise_residual(small), 8.0 * f)
    fh, fw = acf.shape
    b = basis * f
    shortest = float(min(np.hypot(*b[:, 0]), np.hypot(*b[:, 1])))
    lo, hi = 0.8 * shortest, 0.8 * min(sh, sw) / 1.4  # lags whose overlap is >= 20% of the window
    first = _refine(b, acf, fh // 2, fw // 2, lo, hi, radius=round(0.08 * shortest), tolerance=0.12)
    refined = _refine(first, acf, fh // 2, fw // 2, lo, hi, radius=2, tolerance=0.12)
    return refined / f


def fold_masked(values: np.ndarray, mask: np.ndarray, tile: int) -> np.ndarray:
    """Average of the masked ``values`` over all tile-periodic positions (0 where nothing lands)."""
    h, w = values.shape
    hh, ww = h + (-h % tile), w + (-w % tile)
    v = np.zeros((hh, ww), dtype=np.float32)
    m = np.zeros((hh, ww), dtype=np.float32)
    np.multiply(values, mask, out=v[:h, :w])
    m[:h, :w] = mask
    s = v.reshape(hh // tile, tile, ww // tile, tile).sum(axis=(0, 2))
    c = m.reshape(hh // tile, tile, ww // tile, tile).sum(axis=(0, 2))
    out = np.where(c > 0.5, s / np.maximum(c, 1e-9), 0.0)
    return (out - out.mean()).astype(np.float64)


@dataclass(frozen=True)
class Folded:
    """A copy folded along a lattice: the tile, and how the copy's pixels map onto tile pixels."""

    tile: np.ndarray  # (tile, tile) float64
    #: u = warp @ (x, y, 1): the copy's pixel (x, y) lands on tile pixel u (mod tile)
    warp: np.ndarray  # (2, 3)
    #: the copy's width and height in lattice periods along its own sides
    extent: tuple[float, float]
    #: the warped residual and its coverage, before folding (for :func:`local_shifts`)
    frame: np.ndarray
    mask: np.ndarray


def _residual(
    y: np.ndarray, period: float, tile: int, cache: dict | None
) -> tuple[np.ndarray, tuple[int, int]]:
    """The noise residual of ``y`` resized by the half-octave step that brings ``period`` nearest
    ``tile`` pixels, and the resized (width, height); ``cache`` keeps one per step."""
    h, w = y.shape
    step = int(np.clip(round(2.0 * np.log2(tile / period)), -8, 4))
    g = 2.0 ** (step / 2.0)
    key = ("residual", step)
    if cache is not None and key in cache:
        r, size = cache[key]
        return r, size
    size = (max(8, round(w * g)), max(8, round(h * g)))
    interp = cv2.INTER_AREA if g < 1 else cv2.INTER_CUBIC
    yy = y if step == 0 else cv2.resize(y, size, interpolation=interp)
    r = noise_residual(yy)
    if cache is not None:
        cache[key] = (r, size)
    return r, size


def fold_projective(
    y: np.ndarray, hmat: np.ndarray, period: float, tile: int, cache: dict | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fold float32 luma ``y`` along a projective map: ``hmat`` (3 x 3) takes the copy's pixel
    (x, y) to the mark's own tile coordinates (any whole number of periods off). Returns the
    tile (in the mark's coordinates: no symmetry left to undo, shift ~0), the warped residual and
    its coverage. ``period`` (copy pixels) picks the residual's resize step, as in :func:`fold_along`."""
    h, w = y.shape
    r, size = _residual(y, period, tile, cache)
    gx, gy = size[0] / w, size[1] / h
    m = hmat @ np.diag([1.0 / gx, 1.0 / gy, 1.0])  # resized px -> tile px
    sw, sh = size
    corners = cv2.perspectiveTransform(np.array([[[0, 0], [sw, 0], [0, sh], [sw, sh]]], dtype=np.float64), m)[
        0
    ]
    if not np.isfinite(corners).all():
        raise ValueError("degenerate projective map")
    lo = np.floor(corners.min(axis=0) / tile) * tile  # whole periods: the tile phase is kept
    span = np.ceil(corners.max(axis=0) - lo).astype(int) + 2
    if span.max() > 16 * tile or span.min() < tile:
        raise ValueError("implausible projective map")
    shift = np.array([[1.0, 0.0, -lo[0]], [0.0, 1.0, -lo[1]], [0.0, 0.0, 1.0]])
    both = cv2.merge([r, np.ones_like(r)])
    warped = cv2.warpPerspective(
        both, shift @ m, (int(span[0]), int(span[1])), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    wr, wm = warped[..., 0], warped[..., 1]
    return fold_masked(wr, wm, tile), wr, wm


def fold_along(y: np.ndarray, basis: np.ndarray, tile: int, cache: dict | None = None) -> Folded:
    """Warp float32 luma ``y`` so that ``basis`` (copy pixels) becomes ``tile`` pixels, and fold.

    The copy is first resized isotropically by a half-octave step toward one period = ``tile``
    pixels (so the warp neither blurs nor aliases much) and its residual taken there; ``cache``
    keeps those residuals between the candidates of one decode."""
    h, w = y.shape
    period = float(np.sqrt(abs(np.linalg.det(basis))))
    if not (np.isfinite(basis).all() and period >= 4.0):
        raise ValueError("degenerate lattice basis")
    r, size = _residual(y, period, tile, cache)
    gx, gy = size[0] / w, size[1] / h
    lin = tile * np.linalg.inv(basis) @ np.diag([1.0 / gx, 1.0 / gy])  # resized px -> tile px
    sw, sh = size
    corners = lin @ np.array([[0, sw, 0, sw], [0, 0, sh, sh]], dtype=np.float64)
    lo = corners.min(axis=1)
    span = np.ceil(corners.max(axis=1) - lo).astype(int) + 2
    m = np.hstack([lin, (-lo + 1.0)[:, None]]).astype(np.float64)
    out_size = (int(span[0]), int(span[1]))
    both = cv2.merge([r, np.ones_like(r)])  # residual and coverage in one warp
    warped = cv2.warpAffine(both, m, out_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    wr, wm = warped[..., 0], warped[..., 1]
    folded = fold_masked(wr, wm, tile)
    inv = np.linalg.inv(basis)
    extent = (float(w * np.hypot(*inv[:, 0])), float(h * np.hypot(*inv[:, 1])))
    warp = np.hstack([lin @ np.diag([gx, gy]), (-lo + 1.0)[:, None]])
    return Folded(tile=folded, warp=warp, extent=extent, frame=wr, mask=wm)


def block_tiles(folded: Folded, tile: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The warped frame cut into 2 x 2 blocks at whole-tile boundaries, each folded on its own:
    (tile, centre (x, y) of its coverage in frame pixels) for blocks covering >= 1.5 tiles."""
    fh, fw = folded.frame.shape
    cut_y = max(1, (fh // tile) // 2) * tile
    cut_x = max(1, (fw // tile) // 2) * tile
    out = []
    for y0, y1 in ((0, cut_y), (cut_y, fh)):
        for x0, x1 in ((0, cut_x), (cut_x, fw)):
            m = folded.mask[y0:y1, x0:x1]
            cover = float(m.sum())
            if cover < 1.5 * tile * tile:
                continue
            yy, xx = np.mgrid[y0:y1, x0:x1]
            centre = np.array([float((xx * m).sum()) / cover, float((yy * m).sum()) / cover])
            out.append((fold_masked(folded.frame[y0:y1, x0:x1], m, tile), centre))
    return out


def fit_drift(centres: np.ndarray, shifts: np.ndarray) -> np.ndarray | None:
    """Least-squares linear drift E (2 x 2) of the tile shift across the frame: shift ~ E c + d0."""
    if len(centres) < 3:
        return None
    a = np.hstack([centres, np.ones((len(centres), 1))])
    sol, *_ = np.linalg.lstsq(a, shifts, rcond=None)
    return sol[:2].T


#: the 8 symmetries of the square lattice, as (transpose, negate tile y, negate tile x)
DIHEDRAL = [(t, ny, nx) for t in (False, True) for ny in (False, True) for nx in (False, True)]


def dihedral(tile: np.ndarray, transpose: bool, neg_y: bool, neg_x: bool) -> np.ndarray:
    """One symmetry of a periodic tile (index i -> -i mod T, so the tile stays periodic)."""
    t = tile.T if transpose else tile
    if neg_y:
        t = np.roll(t[::-1], 1, axis=0)
    if neg_x:
        t = np.roll(t[:, ::-1], 1, axis=1)
    return np.ascontiguousarray(t)


def dihedral_matrix(transpose: bool, neg_y: bool, neg_x: bool) -> np.ndarray:
    """The (x, y) matrix D of a symmetry: a folded tile pixel w lands on D @ w in the variant."""
    d = np.array([[0.0, 1.0], [1.0, 0.0]]) if transpose else np.eye(2)
    return np.diag([-1.0 if neg_x else 1.0, -1.0 if neg_y else 1.0]) @ d


def variant_spectrum(spec: np.ndarray, sym: tuple[bool, bool, bool]) -> np.ndarray:
    """The spectrum of ``dihedral(tile, *sym)`` from the spectrum of ``tile``: an index gather.

    The variant puts tile pixel w at D w, so its coefficient at frequency k is the tile's at
    D^T k (D is a signed permutation); one FFT serves all 8 symmetries."""
    sy, sx = _variant_index(spec.shape[0], sym)
    return spec[sy, sx]


@lru_cache(maxsize=32)
def _variant_index(t: int, sym: tuple[bool, bool, bool]) -> tuple[np.ndarray, np.ndarray]:
    d = dihedral_matrix(*sym).astype(np.int64)
    k = np.arange(t)
    ky, kx = np.meshgrid(k, k, indexing="ij")
    return (d[0, 1] * kx + d[1, 1] * ky) % t, (d[0, 0] * kx + d[1, 0] * ky) % t


def dihedral_variants(tile: np.ndarray) -> Iterator[tuple[tuple[bool, bool, bool], np.ndarray]]:
    for sym in DIHEDRAL:
        yield sym, dihedral(tile, *sym)
