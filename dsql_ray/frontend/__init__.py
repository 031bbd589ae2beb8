"""The PostgreSQL front end: the v3 wire protocol (``pgwire``: bytes in, bytes out),
one client session from connect to close (``session``), TLS (``tls``) and DSQL's auth
tokens (``tokens``). It serves a :class:`~dsql_ray.frontend.backend.SessionBackend` and
knows nothing of what implements it: compute imports the front end, never the reverse.
"""
