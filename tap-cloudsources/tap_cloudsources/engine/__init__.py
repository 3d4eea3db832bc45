"""The sync engine, written once for every source: HTTP, retries, budgets, paging guards,
checkpoints, run reports and the watchdog. No source's name appears in this package."""
