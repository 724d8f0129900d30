"""Compile, probe, certify and export a fitted pipeline as an artifact."""
