"""Tokenhub: an LLM gateway that routes, fails over and orchestrates requests across providers."""

__version__ = "0.1.0"
