"""The hub: an event-driven integration hub against school dropout."""

__version__ = "0.1.0"
