"""Synthetic national data: schools, pupils and results for the demo, the tests and the benchmarks.

Seeded and reproducible; one school to national scale. A latent ability per pupil, shifted by
school intake and pupil characteristics, drives prior attainment and outcomes; school value added
moves KS4 outcomes beyond prior attainment. Proportions and effects come from calibration.toml,
tuned so national figures land near published ones.
"""

from keystage.core.synth.generator import SynthSpec, SynthYear, generate, load_parameters

__all__ = ["SynthSpec", "SynthYear", "generate", "load_parameters"]
