"""KS4 measures: Attainment 8, Progress 8, EBacc, English and maths (rules: shared/domain/ks4-measures.md)."""
