from tests.unit.audit.backends import backend  # noqa: F401  (the parametrized fixture)
