"""tongban (一网通办): a public-security government-service platform."""

__version__ = "0.1.0"
