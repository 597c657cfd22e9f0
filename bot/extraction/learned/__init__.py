"""The learned stage: rule proposals widened to candidates, decided by a trained linear model."""
