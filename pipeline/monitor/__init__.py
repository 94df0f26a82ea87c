"""Night-over-night monitoring of the published scores: migration, the early-warning
watchlist, and backtests against matured outcomes."""
