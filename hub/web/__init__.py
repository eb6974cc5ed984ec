"""`hub serve`: the web pages of observatories and counsellors, the operator page, the
HTTP API of institutions, `/metrics` and `/healthz` (interfaces.md "HTTP and web").

    from hub.web.app import create_app
"""
