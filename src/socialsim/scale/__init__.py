"""Scaling out: predicting what a large run costs (estimate)."""
