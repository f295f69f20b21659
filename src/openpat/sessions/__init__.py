"""The dosing session: how long one lasts and occupies its room and team (``duration``); the
live session (doses, vitals, alerts, adverse events, discharge) arrives with issue 18."""
