"""openpat.pharmacology: see ARCHITECTURE.md; arrives with its issue."""
