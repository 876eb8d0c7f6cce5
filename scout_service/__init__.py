"""Scout: a gRPC service that turns a business plan into a market-research dossier."""
