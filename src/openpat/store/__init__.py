"""Persistence: SQLAlchemy models, repositories, the unit of work, audit trail, migrations."""
