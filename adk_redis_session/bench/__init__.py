"""Benchmark of ADK session services; run `python -m adk_redis_session.bench`."""
