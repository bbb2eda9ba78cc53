"""Noise schedules of the default model: one for training, the matching one for sampling.

Why x0-prediction on a cosine schedule: the scenes are flat colours, and predicting the clean
image makes "the whole background is white" a direct regression target at every noise level;
DPM-Solver++ works on data predictions natively, so 10 steps give clean samples.
"""

from __future__ import annotations

# diffusers' top-level names are its dummy objects to a type checker: import from the defining modules
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler
from diffusers.schedulers.scheduling_dpmsolver_multistep import DPMSolverMultistepScheduler

_COMMON = dict(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="sample")


def training_scheduler() -> DDPMScheduler:
    return DDPMScheduler(**_COMMON, clip_sample=False)


def sampling_scheduler() -> DPMSolverMultistepScheduler:
    return DPMSolverMultistepScheduler(
        **_COMMON,
        algorithm_type="dpmsolver++",
        solver_order=2,
        final_sigmas_type="zero",
        lower_order_final=True,
    )
