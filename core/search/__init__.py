"""Search impact: a sample video catalog and its relevance judgements, made together from one seed."""
