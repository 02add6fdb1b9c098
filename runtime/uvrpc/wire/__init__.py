"""The wire: uvrpc's message format and the limits on it.

Statuses, errors, the codec and its pooled buffers, the frames and headers of the
protocol (``docs/protocol.md``), message size limits, and the descriptors of
messages, methods and services that generated code declares. Nothing here does I/O
or knows an event loop; every other layer builds on this one.
"""
