"""Shared UI pieces, one small module each: confirm (confirm-then-act), notices (messages that survive a rerun),
picker (pick by query parameter), formatting (numbers and times for people), try_router (route a query through
one or more routers), checks (inputs read with core's field rules, actions off while one fails), layout (rows that
wrap at narrow widths), drafts (a page's unsaved work kept across a reload)."""
