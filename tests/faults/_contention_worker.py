"""One process of the contention test (run as a script by test_contention).

Loads the shared sessions, prints ``ready``, waits for a line on stdin (so
all processes start together), then appends ``--count`` events round-robin
over the sessions. On ``StaleSessionError`` it reloads that session and
retries the same event. Any other error stops it. Prints one JSON line: the
event ids it appended per session, in its order, and what was rejected.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter

from google.adk.errors import StaleSessionError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.base_session_service import GetSessionConfig
from google.adk.sessions.session import Session
from google.genai import types

from adk_redis_session import RedisSessionService

APP = "faults-app"
USER = "faults-user"
# Only the newest event is needed to append: the marker does the rest.
RELOAD = GetSessionConfig(num_recent_events=1)


async def load(service: RedisSessionService, session_id: str) -> Session:
    session = await service.get_session(
        app_name=APP, user_id=USER, session_id=session_id, config=RELOAD
    )
    assert session is not None, session_id
    return session


async def run(args: argparse.Namespace) -> dict[str, object]:
    tag = f"p{args.worker}"
    session_ids = args.sessions.split(",")
    service = RedisSessionService.from_url(args.url, key_prefix=args.prefix)
    appended: dict[str, list[str]] = {sid: [] for sid in session_ids}
    rejected: Counter[str] = Counter()
    error = ""
    started: float | None = None
    try:
        sessions = {sid: await load(service, sid) for sid in session_ids}
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.monotonic()
        for i in range(args.count):
            sid = session_ids[(i + args.worker) % len(session_ids)]
            event = Event(
                id=f"{tag}-{i:05d}",
                invocation_id=f"inv-{tag}",
                author="agent",
                content=types.Content(
                    role="model", parts=[types.Part(text=f"{tag} #{i}")]
                ),
                actions=EventActions(state_delta={tag: i}),
            )
            while True:
                try:
                    await service.append_event(sessions[sid], event)
                except StaleSessionError:
                    rejected["StaleSessionError"] += 1
                    sessions[sid] = await load(service, sid)
                    continue
                appended[sid].append(event.id)
                break
    except Exception as exc:  # reported to the test, which fails on it
        rejected[type(exc).__name__] += 1
        error = f"{type(exc).__name__}: {exc}"
    finally:
        await service.aclose()
    return {
        "worker": args.worker,
        "appended": appended,
        "rejected": dict(rejected),
        "error": error,
        "seconds": 0.0 if started is None else time.monotonic() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--sessions", required=True)
    parser.add_argument("--count", type=int, required=True)
    result = asyncio.run(run(parser.parse_args()))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
