"""The measures engines: pure Python and Polars, no Django. Each key stage computes pupil figures,
then school, group and national figures, from plain tables."""
