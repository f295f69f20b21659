"""Use cases shared by the web app and the CLI: load through repositories, call the domain,
save, audit. Services take a unit of work and never commit."""
