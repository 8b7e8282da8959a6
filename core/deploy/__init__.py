"""Local deployments: each one an HTTP endpoint process on 127.0.0.1 (server.py), supervised by service.py and
called through client.py. docs/ARCHITECTURE.md (deployments) describes the endpoint's API."""
