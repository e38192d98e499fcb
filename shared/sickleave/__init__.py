"""The sick-leave rules every service may use (docs/rules.md §1–§4, §6.3): pure functions over frozen models.

Nothing here imports a service, a broker, a database, a web framework or a logger; the import-boundary
and domain-purity tests hold the package to that.
"""
