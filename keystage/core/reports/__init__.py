"""What the reports show, worked from stored figures: wording, filtered breakdowns, charts and summaries."""
