"""openpat.instruments: see ARCHITECTURE.md; arrives with its issue."""
