"""Earshot: a self-hosted server for asynchronous voice-memo group chat."""
