"""Helpers of ``bench/verify``: the simulated web's process, the clients, the report."""
