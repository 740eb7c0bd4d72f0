"""Provider adapters: one module per provider kind, plus the wire-format translators."""
