"""Derived-feature expressions: the tree, the parser, the numpy evaluator and the ONNX emitter."""
