"""Drives the stages over captures: the sans-IO pipeline (segments -> events), one
process or two stage processes, several captures side by side."""
