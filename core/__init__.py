"""Video Search Router Studio: all logic, no UI."""
