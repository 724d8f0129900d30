"""Drift monitoring: the reference profile, window counters, statistics and reports."""
