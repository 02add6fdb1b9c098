"""The built-in services every server answers: health and reflection.

Their clients are in :mod:`uvrpc.services.clients`, apart, so that serving them
never imports a client.
"""
