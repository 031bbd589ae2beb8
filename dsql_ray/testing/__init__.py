"""Helpers for tests: throwaway servers and fixtures (not used by the database itself)."""
