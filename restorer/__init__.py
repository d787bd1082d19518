"""Restorer: inpainting of damaged photographs with deep generative models."""

__version__ = "0.1.0"
