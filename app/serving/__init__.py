"""Serving HTTP: the server and its workers, admission, rate limits, metrics and logs, HEAD,
body limits, the heavy-work pool, byte-bounded caches and the offline /docs assets."""
