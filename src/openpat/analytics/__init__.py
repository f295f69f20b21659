"""openpat.analytics: see ARCHITECTURE.md; arrives with its issue."""
