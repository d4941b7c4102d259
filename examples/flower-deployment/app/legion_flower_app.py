"""Flower app entry points: the real code is legion_misp.learning.flower_app."""

from legion_misp.learning.flower_app import client_app, server_app

__all__ = ["client_app", "server_app"]
