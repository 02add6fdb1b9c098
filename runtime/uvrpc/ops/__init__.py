"""Running uvrpc in production: the broker, worker processes, metrics and signal
handling, built on the client and the server."""
