"""What every command needs: the settings, the store, and who is acting."""

from __future__ import annotations

import getpass
import os
from functools import cached_property

import settings as settings_module
from settings import Settings
from store.db import Store, open_store_for


class CommandError(Exception):
    """A command cannot do what was asked; the message says why (exit 1)."""


class Context:
    """Loaded once per command: settings are validated before anything else runs."""

    def __init__(self) -> None:
        self.settings: Settings = settings_module.load()

    @cached_property
    def store(self) -> Store:
        return open_store_for(self.settings)

    @property
    def actor(self) -> str:
        """Who is acting: ``NTD_ACTOR``, or the operating-system user."""
        return os.environ.get("NTD_ACTOR") or getpass.getuser()
