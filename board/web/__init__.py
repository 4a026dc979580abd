"""Litestar controllers per audience, identity, rendering and error pages."""
