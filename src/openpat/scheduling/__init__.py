"""openpat.scheduling: room and facilitator scheduling with OR-Tools CP-SAT (planner)."""
