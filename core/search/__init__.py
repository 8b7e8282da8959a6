"""Search impact: a seeded video catalog with judged queries, the four search channels and fusion by a router's weights."""
