"""Server-rendered pages: one router per domain."""
