"""The feature transformers scikit-learn lacks, each beside its ONNX emitter."""
