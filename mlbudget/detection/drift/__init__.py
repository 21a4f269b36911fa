"""Data drift: reference profiles and one drift test per module (importing this registers them)."""

from mlbudget.detection.drift import chi_square, jensen_shannon, ks, psi, wasserstein  # noqa: F401
from mlbudget.detection.drift.base import DriftDetector
from mlbudget.detection.drift.profile import ReferenceProfile, build_profile, profile_reference
from mlbudget.detection.drift.run import detect_drift

__all__ = ["DriftDetector", "ReferenceProfile", "build_profile", "detect_drift", "profile_reference"]
