"""Repositories: every query the application makes lives here, one module per domain."""
