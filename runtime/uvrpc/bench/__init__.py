"""``uvrpc bench``: uvrpc against the raw pyzmq ceiling and its peers, in one run.

Every system serves the same echo of a bytes payload from a server process of its
own; clients run in processes of their own too, and report what they measured as
JSON. See :mod:`uvrpc.bench.cli` for the command line, :mod:`uvrpc.bench.cases` for
what is measured and :mod:`uvrpc.bench.systems` for the systems.

``echo.py`` beside this file is ``uvrpc-gen idl/echo.idl`` output, kept fresh by the
test suite: the benchmark measures generated stubs exactly as users get them.
"""
