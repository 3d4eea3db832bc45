"""cloudsources_sandbox: a local, stateful emulation of the Stripe API for offline tests and
demos, with the Zendesk and Salesforce surfaces (authentication, limits, faults; their data to
follow). Start it with `cloudsources sandbox serve` or
`cloudsources_sandbox.server.SandboxServer`."""
