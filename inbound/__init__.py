"""What providers and mail systems send back: bounces, auto-replies and replies.

``parse`` reads a message (pure), ``bounces`` reads delivery reports, ``matching`` finds
the notice it answers without trusting anything that can be forged, ``ingest`` stores
it and does what its kind calls for. Three ways in share that one path: a pipe
(``ntd mail ingest``), LMTP (``lmtp``) and IMAP (``imap``).
"""
