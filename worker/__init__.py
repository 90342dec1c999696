"""The Temporal worker process, the embedded dev stack and the ``ringflow`` command line."""
