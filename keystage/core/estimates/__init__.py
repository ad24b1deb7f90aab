"""Estimates: each pupil's likely outcomes given prior attainment, fitted on national data (no Django)."""
