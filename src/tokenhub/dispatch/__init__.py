"""Dispatch: executes routing decisions against provider adapters, with failover."""
