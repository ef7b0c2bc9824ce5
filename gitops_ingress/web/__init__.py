"""The web adapter: FastAPI app factory, JSON API, webhooks, control-plane stream, dashboard."""
