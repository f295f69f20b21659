"""openpat.sessions: see ARCHITECTURE.md; arrives with its issue."""
