"""Support code shared by test suites: locally built images, helpers for agents."""
