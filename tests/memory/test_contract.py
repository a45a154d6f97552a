"""The memory contract: every test runs on ADK's InMemoryMemoryService and ours.

Only behaviour both services share is tested here (ours ranks by BM25 and
drops stop words, the in-memory service counts shared words, so rankings are
compared only where both must agree).
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from google.adk.memory import _utils as memory_utils
from google.adk.memory.base_memory_service import BaseMemoryService

from .helpers import texts

if TYPE_CHECKING:
    from .conftest import MakeEvent, MakeSession

APP = "app"
USER = "alice"


async def search(memory: BaseMemoryService, query: str, **ids: str) -> list[str]:
    response = await memory.search_memory(
        app_name=ids.get("app_name", APP),
        user_id=ids.get("user_id", USER),
        query=query,
    )
    return texts(response.memories)


async def test_empty_memory_finds_nothing(memory: BaseMemoryService) -> None:
    assert await search(memory, "anything") == []


async def test_stored_event_is_found_with_its_fields(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    event = make_event("My cat is called Miso", author="user")
    await memory.add_session_to_memory(make_session([event]))
    response = await memory.search_memory(app_name=APP, user_id=USER, query="miso")
    [entry] = response.memories
    assert texts([entry]) == ["My cat is called Miso"]
    assert entry.author == "user"
    assert entry.timestamp == memory_utils.format_timestamp(event.timestamp)
    assert entry.content.role == "user"
    assert entry.id


async def test_search_ignores_case_and_punctuation(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await memory.add_session_to_memory(make_session([make_event("Dentist on TUESDAY")]))
    assert await search(memory, "tuesday?!") == ["Dentist on TUESDAY"]
    assert await search(memory, "DENTIST") == ["Dentist on TUESDAY"]


async def test_unrelated_query_finds_nothing(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await memory.add_session_to_memory(make_session([make_event("I like tea")]))
    assert await search(memory, "coffee") == []


async def test_events_without_content_are_not_returned(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await memory.add_session_to_memory(
        make_session([make_event(None), make_event("tea time")])
    )
    assert await search(memory, "tea") == ["tea time"]


async def test_memory_is_scoped_to_user_and_app(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await memory.add_session_to_memory(make_session([make_event("alpha secret")]))
    await memory.add_session_to_memory(
        make_session([make_event("beta secret")], user_id="bob")
    )
    await memory.add_session_to_memory(
        make_session([make_event("gamma secret")], app_name="other")
    )
    assert await search(memory, "secret") == ["alpha secret"]
    assert await search(memory, "secret", user_id="bob") == ["beta secret"]
    assert await search(memory, "secret", app_name="other") == ["gamma secret"]
    assert await search(memory, "secret", user_id="carol") == []


async def test_adding_a_session_twice_stores_each_event_once(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    session = make_session([make_event("pizza on friday"), make_event("more pizza")])
    await memory.add_session_to_memory(session)
    await memory.add_session_to_memory(session)
    assert sorted(await search(memory, "pizza")) == ["more pizza", "pizza on friday"]


async def test_re_adding_a_grown_session_adds_only_new_events(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    session = make_session([make_event("pizza one")])
    await memory.add_session_to_memory(session)
    session.events.append(make_event("pizza two"))
    await memory.add_session_to_memory(session)
    session.events.append(make_event("pizza three"))
    await memory.add_session_to_memory(session)
    assert sorted(await search(memory, "pizza")) == [
        "pizza one",
        "pizza three",
        "pizza two",
    ]


async def test_add_events_is_a_delta_and_dedupes(
    memory: BaseMemoryService, make_event: MakeEvent
) -> None:
    first, second = make_event("kayak trip"), make_event("kayak rental")
    for events in ([first], [first, second], [second]):
        await memory.add_events_to_memory(
            app_name=APP, user_id=USER, events=events, session_id="s1"
        )
    assert sorted(await search(memory, "kayak")) == ["kayak rental", "kayak trip"]


async def test_add_events_without_session_id_dedupes(
    memory: BaseMemoryService, make_event: MakeEvent
) -> None:
    event = make_event("loose kayak note")
    for _ in range(2):
        await memory.add_events_to_memory(app_name=APP, user_id=USER, events=[event])
    assert await search(memory, "kayak") == ["loose kayak note"]


async def test_the_same_event_in_two_sessions_is_two_memories(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    event = make_event("shared kayak note")
    await memory.add_session_to_memory(make_session([event], session_id="s1"))
    await memory.add_session_to_memory(make_session([event], session_id="s2"))
    assert await search(memory, "kayak") == ["shared kayak note"] * 2


async def test_delete_removes_the_memory_search_returned(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await memory.add_session_to_memory(
        make_session([make_event("red bike"), make_event("blue bike")])
    )
    response = await memory.search_memory(app_name=APP, user_id=USER, query="red")
    [red] = response.memories
    await memory.delete_memory(app_name=APP, user_id=USER, memory_id=red.id)
    assert await search(memory, "bike") == ["blue bike"]


async def test_deleted_memory_is_not_brought_back_by_re_adding(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    red, blue = make_event("red bike"), make_event("blue bike")
    session = make_session([red, blue])
    await memory.add_session_to_memory(session)
    response = await memory.search_memory(app_name=APP, user_id=USER, query="red")
    await memory.delete_memory(
        app_name=APP, user_id=USER, memory_id=response.memories[0].id
    )
    await memory.add_session_to_memory(session)
    await memory.add_events_to_memory(
        app_name=APP, user_id=USER, events=[red], session_id="s1"
    )
    assert await search(memory, "bike") == ["blue bike"]


async def test_delete_of_unknown_or_missing_id_is_a_no_op(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await memory.add_session_to_memory(make_session([make_event("green bike")]))
    await memory.delete_memory(app_name=APP, user_id=USER, memory_id="nope")
    await memory.delete_memory(app_name=APP, user_id=USER, memory_id=None)
    await memory.delete_memory(app_name=APP, user_id="bob", memory_id="nope")
    assert await search(memory, "bike") == ["green bike"]


async def test_delete_is_scoped_to_the_user(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    event = make_event("purple bike")
    await memory.add_session_to_memory(make_session([event]))
    await memory.add_session_to_memory(make_session([event], user_id="bob"))
    response = await memory.search_memory(app_name=APP, user_id=USER, query="bike")
    await memory.delete_memory(
        app_name=APP, user_id="bob", memory_id=response.memories[0].id
    )
    assert await search(memory, "bike") == ["purple bike"]


async def test_more_matching_words_rank_first(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await memory.add_session_to_memory(
        make_session(
            [
                make_event("flight booked"),
                make_event("flight to Lisbon booked for March"),
                make_event("hotel in Lisbon"),
            ]
        )
    )
    found = await search(memory, "flight Lisbon March")
    assert found[0] == "flight to Lisbon booked for March"
    assert sorted(found[1:]) == ["flight booked", "hotel in Lisbon"]


async def test_at_most_ten_results(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await memory.add_session_to_memory(
        make_session([make_event(f"note number {i} about tea") for i in range(15)])
    )
    assert len(await search(memory, "tea")) == 10


async def test_composed_and_decomposed_accents_match(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    stored = unicodedata.normalize("NFD", "Meet at the café")
    await memory.add_session_to_memory(make_session([make_event(stored)]))
    assert await search(memory, unicodedata.normalize("NFC", "café")) == [stored]


async def test_cjk_text_is_searchable_by_a_word_inside_it(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await memory.add_session_to_memory(
        make_session([make_event("我的猫叫小白"), make_event("東京タワーに行きました")])
    )
    assert await search(memory, "猫") == ["我的猫叫小白"]
    assert await search(memory, "東京") == ["東京タワーに行きました"]


async def test_latin_word_inside_japanese_is_a_word(
    memory: BaseMemoryService, make_event: MakeEvent, make_session: MakeSession
) -> None:
    await memory.add_session_to_memory(make_session([make_event("私はPythonを使う")]))
    assert await search(memory, "python") == ["私はPythonを使う"]
    assert await search(memory, "thon") == []
