"""Routers: everything that turns a query into channel weights."""
