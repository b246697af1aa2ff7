"""Detectors: hard-label analyses that turn a backend's answers into evidence and a verdict."""
