"""The long-running service behind ``ntd run``: leadership, jobs, and the process itself."""
