"""``ntd demo``: the whole loop against a simulated internet, narrated for newcomers."""
