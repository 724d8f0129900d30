"""ONNX graph building: the builder, the precision plan, tree ensembles and the model."""
