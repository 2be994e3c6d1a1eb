"""Server-rendered pages (setup, pull-request details, organisation dashboard).

Jinja2 templates with autoescaping, one stylesheet inlined in `base.html`, no scripts needed:
every page works without JavaScript and is readable on a phone.
"""
