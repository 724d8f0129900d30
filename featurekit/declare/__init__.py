"""Declare features: raw inputs, computed features and the FeatureSet that holds them."""
