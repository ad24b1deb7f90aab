"""Stored measures: figures computed from the results schools submit, for the reports to read."""
