"""LLM, embedding and vector-store providers behind small interfaces."""
