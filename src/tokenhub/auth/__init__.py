"""Consumer API keys: generation, hashing, scopes, rate limits and budgets."""
