"""openpat.knowledge: see ARCHITECTURE.md; arrives with its issue."""
