"""openpat.safety: see ARCHITECTURE.md; arrives with its issue."""
