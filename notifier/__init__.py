"""Notices that get content removed: planned from the store, built, sent, recorded.

``policy`` decides what is due (pure); ``ledger`` records it as pending rows and turns
rows into drafts; ``message`` and ``xarf`` build the email (pure); ``transport`` sends it
(SMTP or the outbox folder); ``sender`` marks what went; ``passes`` runs one pass.
"""
