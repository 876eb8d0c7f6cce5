"""Research with evidence: the documents indexed for search, sources, citations, tools."""
