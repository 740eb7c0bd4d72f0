"""The aiohttp application: middleware, the consumer API (/v1) and the admin API (/admin/v1)."""
