"""The gRPC edge: servicers, converters, validation, auth, errors, reflection."""
