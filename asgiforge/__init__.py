"""asgiforge: scaffold, develop, inspect and serve ASGI services on a bundled runtime."""

__version__ = "0.1.0"
