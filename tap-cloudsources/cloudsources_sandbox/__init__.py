"""cloudsources_sandbox: a local, stateful emulation of the Stripe API (Zendesk and Salesforce
to follow) for offline tests and demos. Start it with `cloudsources sandbox serve` or
`cloudsources_sandbox.server.SandboxServer`."""
