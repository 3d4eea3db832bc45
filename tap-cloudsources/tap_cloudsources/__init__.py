"""tap-cloudsources: Singer tap for SaaS cloud sources (Stripe first)."""

__version__ = "0.1.0"
