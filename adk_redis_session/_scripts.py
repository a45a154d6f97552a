"""Lua scripts: each one is a whole operation, atomic on the server.

Every script runs in one round trip (EVALSHA; redis-py reloads it on
NOSCRIPT). Key order is fixed by the ``*_KEYS`` helpers in the service.
Floats are passed and stored as the strings Python formatted, because Lua's
``tostring`` keeps only 14 significant digits.

The revision marker handed to callers is ``"<incarnation>:<revision>"``:
the incarnation is a random token drawn at creation, so a session object
from before a delete + re-create never matches the new session.

Redis Cluster: the app keys (``app:`` state, the app's user index) hash to
another slot than the user's keys, and a script may touch one slot only. So
each script that writes or reads app keys takes them as its last KEYS and
checks ``#KEYS``: on a single server the client passes them and everything
happens in one atomic script, as before; on a cluster it leaves them out, the
script does the user-slot part and says in its reply what the app slot
needs, and the client runs ``APP_SYNC`` there as a second step (idempotent,
not atomic with the first). One Lua source per operation either way.
"""

from __future__ import annotations

__all__ = [
    "APPEND_EVENT",
    "APP_SYNC",
    "CREATE_SESSION",
    "DELETE_SESSION",
    "GET_SESSION",
    "LIST_APP_USERS",
    "PRUNE_SESSIONS",
]

# Index keys shared by several sessions live as long as their longest-lived
# member: a ZSET scored by deadline (+inf = no TTL) tells which that is.
_EXPIRE_LIKE_LATEST = """
local function expire_like_latest(deadlines, ...)
  local last = redis.call('ZRANGE', deadlines, -1, -1, 'WITHSCORES')[2]
  for _, key in ipairs({...}) do
    if not last or last == 'inf' then
      redis.call('PERSIST', key)
    else
      redis.call('PEXPIREAT', key, last)
    end
  end
end
"""

# Shared by CREATE_SESSION and APPEND_EVENT: key type checks, applying the
# three state deltas (field/value pairs from ARGV) and refreshing TTLs.
# KEYS[9] (app state) and KEYS[10] (app users) are given on a single server
# only; on Redis Cluster #KEYS is 8 and the app part is APP_SYNC's.
_APPLY_STATE_AND_TTL = (
    _EXPIRE_LIKE_LATEST
    + """
-- A key of the wrong type would fail a write half-way, after earlier writes
-- took effect: callers check every key they write before the first write.
local KINDS = {'hash', 'hash', 'list', 'zset', 'hash', 'hash', 'zset', 'zset',
  'hash', 'zset'}
local function wrong_kind(first)
  for k = first, #KEYS do
    local kind = redis.call('TYPE', KEYS[k]).ok
    if kind ~= 'none' and kind ~= KINDS[k] then return KEYS[k] end
  end
  return nil
end

-- On a cluster the client passes no app pairs (count 0): KEYS[9] is unused.
local function apply_pairs(key, count, pos)
  for _ = 1, count do
    redis.call('HSET', key, ARGV[pos], ARGV[pos + 1])
    pos = pos + 2
  end
  return pos
end

-- Called on create and append; returns the server time and the session's
-- new deadline (nil without a session TTL), both in ms. Without a session
-- TTL, a session's deadline is +inf; it is written on create and stays.
local function refresh_ttls(session_ttl, user_ttl, app_ttl, session_id, user_id,
    creating)
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  local deadline = nil
  local with_app = #KEYS == 10
  if session_ttl > 0 then
    deadline = now + session_ttl
    for k = 1, 5 do redis.call('PEXPIREAT', KEYS[k], deadline) end
    redis.call('ZADD', KEYS[8], deadline, session_id)
    expire_like_latest(KEYS[8], KEYS[7], KEYS[8])
    if with_app then
      -- GT: a user listed forever (no TTL) stays listed forever.
      redis.call('ZADD', KEYS[10], 'GT', deadline, user_id)
      expire_like_latest(KEYS[10], KEYS[10])
    end
  elseif creating then
    redis.call('ZADD', KEYS[8], '+inf', session_id)
    redis.call('PERSIST', KEYS[7])
    redis.call('PERSIST', KEYS[8])
    if with_app then
      redis.call('ZADD', KEYS[10], '+inf', user_id)
      redis.call('PERSIST', KEYS[10])
    end
  else
    -- A session given a TTL by another service keeps it: keys this append
    -- created (first event, first state key) get the same deadline.
    local kept = redis.call('PEXPIRETIME', KEYS[1])
    if kept > 0 then
      for k = 2, 5 do redis.call('PEXPIREAT', KEYS[k], kept) end
    end
  end
  if user_ttl > 0 then redis.call('PEXPIRE', KEYS[6], user_ttl) end
  if app_ttl > 0 and with_app then redis.call('PEXPIRE', KEYS[9], app_ttl) end
  return now, deadline
end
"""
)

CREATE_SESSION = (
    """
-- Creates a session unless its id is taken. Idempotent per incarnation
-- token: a retried call (same token) gets the session it created.
-- KEYS[1] meta  KEYS[2] state  KEYS[3] events  KEYS[4] ts  KEYS[5] ids
-- KEYS[6] user state  KEYS[7] user sessions  KEYS[8] user expiry
-- KEYS[9] app state  KEYS[10] app users (single server only, see above)
-- ARGV[1] incarnation token  ARGV[2] create time (float text)
-- ARGV[3] app name  ARGV[4] user id  ARGV[5] session id  ARGV[6] layout version
-- ARGV[7] session TTL ms (0 = none)  ARGV[8] user state TTL ms  ARGV[9] app TTL ms
-- ARGV[10] cluster: the user's app index entry APP_SYNC wrote just before
--   ('+inf' or a deadline in ms), kept in meta as 'app_until'; else ''
-- ARGV[11..13] number of session/user/app state pairs, then the pairs.
-- Returns {'exists'}, {'corrupt', key} or
-- {'ok', marker, session state, user state, app state} (flat HGETALL
-- arrays; app state is empty without KEYS[9]). Atomic: the id check and
-- every write.
"""
    + _APPLY_STATE_AND_TTL
    + """
local function app_state()
  if #KEYS == 10 then return redis.call('HGETALL', KEYS[9]) end
  return {}
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local inc = redis.call('HGET', KEYS[1], 'inc')
  if not inc then return {'corrupt', KEYS[1]} end
  if inc ~= ARGV[1] then return {'exists'} end
  -- Our own earlier attempt (a retry after a lost reply): report success.
  return {'ok', inc .. ':' .. redis.call('HGET', KEYS[1], 'rev'),
    redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[6]), app_state()}
end
local bad = wrong_kind(6)
if bad then return {'corrupt', bad} end
-- Leftovers of an earlier session with this id cannot be read back as ours.
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('HSET', KEYS[1], 'v', ARGV[6], 'app', ARGV[3], 'user', ARGV[4],
  'id', ARGV[5], 'inc', ARGV[1], 'rev', 0, 'created', ARGV[2],
  'updated', ARGV[2], 'last_event', '', 'ordered', 1)
local pos = 14
pos = apply_pairs(KEYS[2], tonumber(ARGV[11]), pos)
pos = apply_pairs(KEYS[6], tonumber(ARGV[12]), pos)
apply_pairs(KEYS[9], tonumber(ARGV[13]), pos)
redis.call('ZADD', KEYS[7], ARGV[2], ARGV[5])
local now = refresh_ttls(tonumber(ARGV[7]), tonumber(ARGV[8]),
  tonumber(ARGV[9]), ARGV[5], ARGV[4], true)
if ARGV[10] ~= '' then
  redis.call('HSET', KEYS[1], 'app_until', ARGV[10], 'app_sync', now)
end
return {'ok', ARGV[1] .. ':0', redis.call('HGETALL', KEYS[2]),
  redis.call('HGETALL', KEYS[6]), app_state()}
"""
)

APPEND_EVENT = (
    """
-- Appends one event if the caller's revision is current.
-- KEYS as CREATE_SESSION (8 on a cluster, 10 on a single server).
-- ARGV[1] caller's marker ('' when it has none)
-- ARGV[2] caller's last_update_time  ARGV[3] caller's last event id
-- ARGV[4] '1' when the caller holds events, else '0'
-- ARGV[5] event id  ARGV[6] event JSON  ARGV[7] event timestamp (float text)
-- ARGV[8] session TTL ms  ARGV[9] user state TTL ms  ARGV[10] app TTL ms
-- ARGV[11] session id  ARGV[12] user id  ARGV[13] SHA-1 of the event JSON
-- ARGV[14..16] number of session/user/app state pairs, then the pairs.
-- Returns {'ok', marker, entry, touch} | {'dup', marker, 'retry' | 'held',
-- app_until} | {'missing'} | {'stale'} | {'conflict'} | {'corrupt', key}.
-- All checks happen before the first write, so an error writes nothing; on
-- 'ok' every write below happened together. The event history is never
-- read: the cost does not grow with the session.
-- Cluster only (single server: entry = '', touch = 0): entry is the app
-- index deadline APP_SYNC must raise this user to ('' = none needed), touch
-- 1 when the app state TTL is due for a refresh; app_until is the last
-- entry handed out (for repeating APP_SYNC after a retry).
"""
    + _APPLY_STATE_AND_TTL
    + """
-- Redis Cluster: the app users index must list this user until at least
-- the session's deadline. APP_SYNC raises the entry to half a TTL beyond
-- it, and meta remembers that ('app_until'), so only about one append per
-- half TTL needs the second step; the app state TTL likewise ('app_sync':
-- when it was last refreshed). Without a session TTL the entry is +inf from
-- create on. Returns the entry to write ('' = none) and the touch flag.
local function plan_app_sync(now, deadline, session_ttl, app_ttl)
  local m = redis.call('HMGET', KEYS[1], 'app_until', 'app_sync')
  local entry = ''
  local forever = m[1] == '+inf' or m[1] == 'inf'
  if deadline and not forever and deadline > (tonumber(m[1]) or 0) then
    entry = string.format('%d', deadline + math.floor(session_ttl / 2))
    redis.call('HSET', KEYS[1], 'app_until', entry)
  end
  local touch = 0
  if app_ttl > 0 and now - (tonumber(m[2]) or 0) > app_ttl / 2 then
    touch = 1
  end
  if entry ~= '' or touch == 1 then
    redis.call('HSET', KEYS[1], 'app_sync', now)
  end
  return entry, touch
end
local m = redis.call('HMGET', KEYS[1], 'inc', 'rev', 'updated', 'last_event',
  'ordered')
if not m[1] then
  if redis.call('EXISTS', KEYS[1]) == 1 then return {'corrupt', KEYS[1]} end
  return {'missing'}
end
local bad = wrong_kind(2)
if bad then return {'corrupt', bad} end
if not tonumber(m[2]) or not tonumber(m[3]) then return {'corrupt', KEYS[1]} end
local inc, rev, updated, last_event = m[1], tonumber(m[2]), m[3], m[4]
local current = inc .. ':' .. rev

-- No marker (a hand-built Session): DatabaseSessionService's fallback,
-- comparing with the latest event in (timestamp, id) order.
local function stale_without_marker()
  if tonumber(updated) <= tonumber(ARGV[2]) then return false end
  if m[5] ~= '1' then last_event = redis.call('ZRANGE', KEYS[4], -1, -1)[1] end
  if ARGV[4] == '0' then return rev > 0 end
  return last_event ~= ARGV[3]
end

local seen = redis.call('HGET', KEYS[5], ARGV[5])
if seen then
  -- The same id again: success that writes nothing, for a caller that
  -- either retries after a lost reply (its marker is the revision just
  -- before the event) or already holds the event. Anyone else is stale.
  local seen_digest, seen_rev = string.match(seen, '^(%x+):(%d+)$')
  if seen_digest ~= ARGV[13] then return {'conflict'} end
  local app_until = redis.call('HGET', KEYS[1], 'app_until') or ''
  if ARGV[1] == inc .. ':' .. (tonumber(seen_rev) - 1) then
    return {'dup', inc .. ':' .. seen_rev, 'retry', app_until}
  end
  if ARGV[1] == current or (ARGV[1] == '' and not stale_without_marker()) then
    return {'dup', current, 'held', app_until}
  end
  return {'stale'}
end
if ARGV[1] ~= '' then
  if ARGV[1] ~= current then return {'stale'} end
elseif stale_without_marker() then
  return {'stale'}
end
rev = rev + 1
redis.call('RPUSH', KEYS[3], ARGV[6])
-- Readers order events by (timestamp, id) like DatabaseSessionService. While
-- every append sorts after the previous one, append order is that order and
-- reads take the list as is ('ordered' = 1).
-- A timestamp tie also clears it: Lua compares strings by locale, the
-- ZSET by bytes, so the index settles ties.
if m[5] == '1' and rev > 1 and tonumber(ARGV[7]) <= tonumber(updated) then
  redis.call('HSET', KEYS[1], 'ordered', 0)
end
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[5])
redis.call('HSET', KEYS[5], ARGV[5], ARGV[13] .. ':' .. rev)
redis.call('HSET', KEYS[1], 'rev', rev, 'updated', ARGV[7],
  'last_event', ARGV[5])
local pos = 17
pos = apply_pairs(KEYS[2], tonumber(ARGV[14]), pos)
pos = apply_pairs(KEYS[6], tonumber(ARGV[15]), pos)
apply_pairs(KEYS[9], tonumber(ARGV[16]), pos)
redis.call('ZADD', KEYS[7], ARGV[7], ARGV[11])
local session_ttl, app_ttl = tonumber(ARGV[8]), tonumber(ARGV[10])
local now, deadline = refresh_ttls(session_ttl, tonumber(ARGV[9]), app_ttl,
  ARGV[11], ARGV[12], false)
if #KEYS == 10 then return {'ok', inc .. ':' .. rev, '', 0} end
local entry, touch = plan_app_sync(now, deadline, session_ttl, app_ttl)
return {'ok', inc .. ':' .. rev, entry, touch}
"""
)

GET_SESSION = """
-- Reads a session with its merged-state parts and the requested events.
-- KEYS[1] meta  KEYS[2] state  KEYS[3] events  KEYS[4] ts  KEYS[5] ids
-- KEYS[6] user state  KEYS[7] app state (single server only: on a cluster
-- it is another slot, read by the client in parallel)
-- ARGV[1] number of recent events (-1 = all, 0 = none)
-- ARGV[2] after_timestamp, inclusive ('' = no filter)
-- ARGV[3] incarnation of the caller's cached events ('' = none)
-- ARGV[4], ARGV[5] the cached positions: ARGV[4] .. ARGV[5] - 1
-- Returns nil when the session does not exist, else {meta fields, session
-- state, user state, app state, events, start, from}: the requested events
-- are positions start .. rev - 1 in (timestamp, id) order, and only
-- positions from .. rev - 1 are sent (the caller has the rest cached).
-- start = from = -1 when positions are not in order: all requested events
-- are sent, in order; start = from = -2 when the order index is broken.
-- Cost when appends came in (timestamp, id) order (ADK's Runner): O(k)
-- for the last k events, O(log n + m) for the m events at or after a
-- timestamp. Otherwise the order comes from the ts index:
-- O(log n + m) to find the events plus the list span that holds them.
local meta = redis.call('HMGET', KEYS[1], 'v', 'inc', 'rev', 'updated',
  'ordered')
if not meta[2] then
  if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
  return {meta, {}, {}, {}, {}, -1, -1}  -- the caller reports it corrupted
end
local rev = tonumber(meta[3])
-- Unreadable metadata: the caller raises an error naming the session.
if not rev then return {meta, {}, {}, {}, {}, -1, -1} end
local limit = tonumber(ARGV[1])
local after = ARGV[2]
local events = {}
local start, from = -1, -1
if meta[5] == '1' then
  local count = rev
  if limit >= 0 and limit < count then count = limit end
  if after ~= '' and count > 0 then
    local matching = redis.call('ZCOUNT', KEYS[4], after, '+inf')
    if matching < count then count = matching end
  end
  start = rev - count
  from = start
  if ARGV[3] == meta[2] and tonumber(ARGV[4]) <= start then
    from = math.min(math.max(start, tonumber(ARGV[5])), rev)
  end
  if from < rev then events = redis.call('LRANGE', KEYS[3], from, rev - 1) end
elseif limit ~= 0 then
  local ids
  if after ~= '' then
    ids = redis.call('ZRANGEBYSCORE', KEYS[4], after, '+inf')
  else
    ids = redis.call('ZRANGE', KEYS[4], 0, -1)
  end
  local first = 1
  if limit > 0 and #ids > limit then first = #ids - limit + 1 end
  local positions, low, high = {}, nil, nil
  for i = first, #ids do
    local seen = redis.call('HGET', KEYS[5], ids[i])
    local p = seen and tonumber(string.match(seen, ':(%d+)$'))
    -- A broken order index: the caller reports the session as corrupted.
    if not p or p < 1 or p > rev then return {meta, {}, {}, {}, {}, -2, -2} end
    p = p - 1
    positions[#positions + 1] = p
    if not low or p < low then low = p end
    if not high or p > high then high = p end
  end
  if low then
    local span = redis.call('LRANGE', KEYS[3], low, high)
    for i, p in ipairs(positions) do events[i] = span[p - low + 1] end
  end
end
local app_state = {}
if #KEYS == 7 then app_state = redis.call('HGETALL', KEYS[7]) end
return {meta, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[6]),
  app_state, events, start, from}
"""

LIST_APP_USERS = """
-- Drops users whose sessions have all expired, then lists the app's users.
-- KEYS[1] app users (score: latest session deadline in ms, +inf = no TTL)
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

PRUNE_SESSIONS = """
-- Removes vanished sessions (expired or evicted) from their user's indexes.
-- KEYS[1] user sessions  KEYS[2] user expiry  KEYS[3..] each session's meta
-- ARGV[i] the session id of KEYS[i + 2]
-- Re-checks existence, so a session re-created meanwhile stays listed.
for i, id in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 2]) == 0 then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
  end
end
return 1
"""

DELETE_SESSION = """
-- Deletes a session and its index entries.
-- KEYS[1..5] session keys  KEYS[6] user sessions  KEYS[7] user expiry
-- KEYS[8] app users (single server only)
-- ARGV[1] session id  ARGV[2] user id
-- Returns 1 when the user has no session left (then, with KEYS[8], the user
-- is removed from the app index; on a cluster the client does that with
-- APP_SYNC), else 0.
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[6], ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
if redis.call('ZCARD', KEYS[6]) > 0 then return 0 end
if #KEYS == 8 then redis.call('ZREM', KEYS[8], ARGV[2]) end
return 1
"""

APP_SYNC = (
    """
-- Redis Cluster only: the app-slot part of a create, append or delete, run
-- by the client as a separate step next to the user-slot script, so NOT
-- atomic with it. Idempotent: running it again writes the same values, so
-- repeating a lost step repairs it.
-- KEYS[1] app state  KEYS[2] app users
-- ARGV[1] user id
-- ARGV[2] what to do with the user's app index entry: 'keep', 'remove',
--   'at' (raise it to ARGV[3]: a deadline in ms or '+inf') or 'after'
--   (raise it to the server time + ARGV[3] ms)
-- ARGV[3] see ARGV[2]
-- ARGV[4] app state TTL in ms to set (0 = leave it)
-- ARGV[5] '1' to return the app state
-- ARGV[6] number of app state pairs, then the pairs
-- Returns {'ok', entry, app state} (entry: the deadline written, '' if
-- none; app state: a flat HGETALL array, empty unless asked) or
-- {'corrupt', key}, before any write.
"""
    + _EXPIRE_LIKE_LATEST
    + """
local KINDS = {'hash', 'zset'}
for k = 1, 2 do
  local kind = redis.call('TYPE', KEYS[k]).ok
  if kind ~= 'none' and kind ~= KINDS[k] then return {'corrupt', KEYS[k]} end
end
local pos = 7
for _ = 1, tonumber(ARGV[6]) do
  redis.call('HSET', KEYS[1], ARGV[pos], ARGV[pos + 1])
  pos = pos + 2
end
local mode, entry = ARGV[2], ''
if mode == 'remove' then
  redis.call('ZREM', KEYS[2], ARGV[1])
elseif mode ~= 'keep' then
  entry = ARGV[3]
  if mode == 'after' then
    local t = redis.call('TIME')
    entry = string.format('%d',
      t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[3]))
  end
  -- GT: an entry is only ever raised; a user listed forever stays listed.
  redis.call('ZADD', KEYS[2], 'GT', entry, ARGV[1])
  expire_like_latest(KEYS[2], KEYS[2])
end
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
local state = {}
if ARGV[5] == '1' then state = redis.call('HGETALL', KEYS[1]) end
return {'ok', entry, state}
"""
)
