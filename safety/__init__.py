"""Checks that look at content (prompts, input images, output images) and return verdicts."""

from safety.verdict import Category, Target, TargetKind, Verdict

__all__ = ["Category", "Target", "TargetKind", "Verdict"]
