"""Benchmark tasks: models, rewards and exact targets."""
