"""Persistence: an in-memory view of every resource, written through to SQL."""
