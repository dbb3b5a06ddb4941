"""The operator service: aiohttp application, JSON API under /api/v1, French console."""
