"""Infrastructure shared by every process (API, worker, voice worker, CLI): the Temporal client, the
payload codec, logging, metrics and tracing, health checks, and Web UI links.

It imports no process package (``api``, ``worker``, ``voice_worker``), so each of them can use it.
"""
