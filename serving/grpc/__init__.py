"""The Open Inference Protocol (KServe v2) over gRPC, beside the HTTP server.

``featurekit serve ARTIFACT --grpc-port N`` serves the ``GRPCInferenceService`` of
``grpc_predict_v2.proto`` (package ``inference``) in the same process as the HTTP
app, over the same model, limits and metrics: `serving.grpc.service` holds the RPCs,
`serving.grpc.tensors` the translation of its messages, `serving.grpc.server` starts
and stops it. The ``*_pb2*`` modules are generated (`serving.grpc.codegen`).

Importing this package needs nothing; serving it needs grpcio
(``pip install 'featurekit[grpc]'``).
"""
