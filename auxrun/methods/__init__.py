"""Selection methods, one module each. Every module in this package is imported by the registry."""
