"""Every side effect of the workflows: dialling and persisting. Thin, idempotent, safe to retry."""
