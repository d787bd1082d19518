"""Training and evaluation of the shipped models (headless, no Qt)."""
