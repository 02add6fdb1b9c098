"""The sans-I/O protocol core: every rule of a call, written once.

What a client and a server do with frames, without sockets, event loops or
threads: the call table, encoding requests and replies, classifying what arrives,
decoding results and items, the credit window of streams, and the call context
(deadlines, metadata). The I/O shells (:mod:`uvrpc.client`, :mod:`uvrpc.server`)
own the sockets and the waiting, and call in here for everything else.
"""
