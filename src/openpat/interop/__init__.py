"""openpat.interop: see ARCHITECTURE.md; arrives with its issue."""
