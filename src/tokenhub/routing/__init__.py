"""Routing policy: token estimates, eligibility, scoring, health — pure, no I/O."""
