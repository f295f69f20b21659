"""JSON API, version 1: one router per domain."""
