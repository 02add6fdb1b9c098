"""Sockets and the event loop, as both shells use them.

The reactor that drains a ZeroMQ socket from an asyncio loop, socket options and
limits, heartbeats, CURVE security, fork checks, and :func:`uvrpc.run`.
"""
