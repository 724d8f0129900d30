"""featurekit's test suite; a package so that its top-level conftest has a name of its own."""
