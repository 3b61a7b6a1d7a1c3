"""Prompt templates as text files, one directory per environment (`prompts/<env>/<name>.txt`)."""

from prompts.loader import load_text, render

__all__ = ["load_text", "render"]
