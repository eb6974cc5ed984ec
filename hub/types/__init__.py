"""Interfaces and shared data shapes (no implementation, no I/O)."""
