"""How good the chosen model is and for whom: validation, benchmarks, decision curves, card."""
