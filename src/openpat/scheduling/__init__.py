"""openpat.scheduling: see ARCHITECTURE.md; arrives with its issue."""
