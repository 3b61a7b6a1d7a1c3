"""Prompt templates as text files, one directory per environment."""
