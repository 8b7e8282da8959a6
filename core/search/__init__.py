"""Search impact: a video catalog, the four search channels, fusion by a router's weights, and judged retrieval.

- `catalog`: segments and their fields;  `sample`: the seeded sample catalog and its relevance judgements;
- `importing`: a team's own catalog and judgements as JSONL, checked line by line;  `library`: named catalogs;
- `channels`: the Channel seam and the local channels;  `fusion`: the 0.05 skip threshold, min-max, RRF, z-score;
- `engine`: a catalog's index and one search;  `metrics` and `evaluation`: Recall@k, MRR, NDCG@10 per router.
"""
