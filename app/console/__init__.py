"""Web console for risk officers and auditors: server-rendered pages over the same services
and API-key scopes as the API (docs/console.md)."""
