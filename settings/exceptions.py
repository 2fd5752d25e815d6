"""Errors of the settings."""


class SettingsError(Exception):
    """A setting has a bad value; the message names the setting and why."""
