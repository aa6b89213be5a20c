"""Few-shot translation: examples joined to the source, translation memories and their fuzzy-match index."""
