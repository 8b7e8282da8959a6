"""Shared UI pieces, one small module each: confirm (confirm-then-act), notices (messages that survive a rerun),
picker (pick by query parameter), formatting (numbers and times for people), try_router (route a query through
one or more routers)."""
