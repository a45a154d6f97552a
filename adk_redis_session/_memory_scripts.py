"""Lua scripts of the memory index: each one is a whole operation, atomic.

Every script runs in one round trip (EVALSHA; redis-py reloads it on
NOSCRIPT). KEYS[1..] start with the fixed keys of one user's index in
``MemoryKeys`` order. Posting list keys are ``<posting prefix><term>``: the
search script gets them as KEYS; the write scripts derive them from the
prefix (ARGV[1]) because removing a memory must reach the posting lists of
terms only the server knows. All of them carry the user's hash tag, so they
hash to the slot of the declared keys (Redis and Valkey, clustered or not,
accept undeclared keys of the script's own slot).

A posting list is a HASH: memory id -> ``length * 1024 + min(count, 1023)``
(the memory's length in terms and how often the term occurs in it), so
scoring reads nothing but the posting lists. Timestamps are passed as the
strings Python formatted (Lua keeps only 14 significant digits); the server
clock (``TIME``) decides retention.
"""

from __future__ import annotations

__all__ = ["ADD_MEMORIES", "DELETE_MEMORY", "SEARCH_MEMORIES"]

# Shared by the write scripts: key kind checks, removing one memory, the clock.
_COMMON = """
-- KEYS[1] meta  KEYS[2] time  KEYS[3] docs  KEYS[4] terms  KEYS[5] gone
local KINDS = {'hash', 'zset', 'hash', 'hash', 'zset'}

-- Returns an error reply when the index cannot be written safely, else nil.
-- Redis does not roll back a script that fails half-way: check first.
local function check_layout(version)
  for k = 1, 5 do
    local kind = redis.call('TYPE', KEYS[k]).ok
    if kind ~= 'none' and kind ~= KINDS[k] then return {'corrupt', KEYS[k]} end
  end
  local m = redis.call('HMGET', KEYS[1], 'v', 'len')
  if m[1] and m[1] ~= version then return {'version', m[1]} end
  if m[2] and not tonumber(m[2]) then return {'corrupt', KEYS[1]} end
  return nil
end

-- Removes one stored memory: entry, terms, time, postings, total length.
local function remove(prefix, id)
  local terms = redis.call('HGET', KEYS[4], id)
  if terms then
    local first = true
    for word in string.gmatch(terms, '%S+') do
      if first then
        local len = tonumber(word)
        if len then redis.call('HINCRBY', KEYS[1], 'len', -len) end
        first = false
      else
        -- pcall: a foreign key under our prefix must not stop this half-way.
        redis.pcall('HDEL', prefix .. word, id)
      end
    end
  end
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('ZREM', KEYS[2], id)
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

ADD_MEMORIES = (
    """
-- Stores memories in one user's index, each once, with its postings.
-- KEYS[1..5] meta, time, docs, terms, gone
-- ARGV[1] posting key prefix  ARGV[2] layout version  ARGV[3] app name
-- ARGV[4] user id  ARGV[5] retention in ms (0 = keep)  ARGV[6] max memories
-- per user (0 = no limit)  ARGV[7] number of memories, then per memory:
--   id, mode ('event' | 'entry'), timestamp (seconds, float text), entry
--   JSON, length in terms, number n of distinct terms, n pairs term, count
-- Returns {'ok', stored, skipped} | {'corrupt', key} | {'version', v}.
-- An 'event' memory is stored unless its id is stored or was deleted (a
-- tombstone). An 'entry' memory replaces a stored one of its id whose JSON
-- differs, and clears its tombstone. Retention: with a period, memories
-- older than now - period are not stored, and the write first removes up to
-- PRUNE_BATCH stored ones that aged out; with a maximum, a full index does
-- not take a memory older than its oldest, and evicts the oldest ones down
-- to the maximum. All checks happen before the first write; the memories
-- of one call are stored together, atomically. Key deadlines (retention
-- set): newest timestamp + period, so the keys of an idle user vanish.
"""
    + _COMMON
    + """
local PRUNE_BATCH = 256
local prefix = ARGV[1]
local retention = tonumber(ARGV[5])
local max = tonumber(ARGV[6])
local failed = check_layout(ARGV[2])
if failed then return failed end

local memories = {}
local checked = {}
local pos = 8
for i = 1, tonumber(ARGV[7]) do
  local m = {id = ARGV[pos], mode = ARGV[pos + 1], ts_text = ARGV[pos + 2],
    ts = tonumber(ARGV[pos + 2]), json = ARGV[pos + 3],
    len = tonumber(ARGV[pos + 4]), terms = {}, counts = {}}
  local n = tonumber(ARGV[pos + 5])
  pos = pos + 6
  for j = 1, n do
    local key = prefix .. ARGV[pos]
    if not checked[key] then
      local kind = redis.call('TYPE', key).ok
      if kind ~= 'none' and kind ~= 'hash' then return {'corrupt', key} end
      checked[key] = true
    end
    m.terms[j] = ARGV[pos]
    m.counts[j] = math.min(tonumber(ARGV[pos + 1]), 1023)
    pos = pos + 2
  end
  memories[i] = m
end

local now = now_ms()
local cutoff = nil
if retention > 0 then
  cutoff = (now - retention) / 1000
  local bound = '(' .. string.format('%.3f', cutoff)
  local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', bound,
    'LIMIT', 0, PRUNE_BATCH)
  for _, id in ipairs(old) do remove(prefix, id) end
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', bound)
end

redis.call('HSET', KEYS[1], 'v', ARGV[2], 'app', ARGV[3], 'user', ARGV[4])
local touched = {}
local stored, skipped = 0, 0
for _, m in ipairs(memories) do
  local keep = not (cutoff and m.ts < cutoff)
  local existing = false
  if keep then existing = redis.call('HGET', KEYS[3], m.id) end
  if existing then
    if m.mode ~= 'entry' or existing == m.json then
      keep = false
    else
      remove(prefix, m.id)
    end
  elseif keep and m.mode == 'event' and redis.call('ZSCORE', KEYS[5], m.id) then
    keep = false
  end
  if keep and max > 0 and not existing
      and redis.call('ZCARD', KEYS[2]) >= max then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]
    if oldest and m.ts < tonumber(oldest) then keep = false end
  end
  if keep then
    if m.mode == 'entry' then redis.call('ZREM', KEYS[5], m.id) end
    redis.call('HSET', KEYS[3], m.id, m.json)
    redis.call('ZADD', KEYS[2], m.ts_text, m.id)
    redis.call('HSET', KEYS[4], m.id, m.len .. ' ' .. table.concat(m.terms, ' '))
    redis.call('HINCRBY', KEYS[1], 'len', m.len)
    for j, term in ipairs(m.terms) do
      local key = prefix .. term
      redis.call('HSET', key, m.id, m.len * 1024 + m.counts[j])
      touched[key] = true
    end
    stored = stored + 1
  else
    skipped = skipped + 1
  end
end

if max > 0 then
  local over = redis.call('ZCARD', KEYS[2]) - max
  if over > stored + PRUNE_BATCH then over = stored + PRUNE_BATCH end
  if over > 0 then
    for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do
      remove(prefix, id)
    end
  end
end

local keys = {KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]}
for key in pairs(touched) do keys[#keys + 1] = key end
if retention > 0 then
  -- Every key outlives the memories (and tombstones) it holds: none is
  -- newer than the newest of either.
  local newest = tonumber(redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2])
  local gone = tonumber(redis.call('ZRANGE', KEYS[5], -1, -1, 'WITHSCORES')[2])
  local latest = math.max(newest or -math.huge, gone or -math.huge)
  local deadline = now + retention
  if latest > -math.huge then deadline = math.floor(latest * 1000) + retention end
  for _, key in ipairs(keys) do redis.call('PEXPIREAT', key, deadline) end
else
  for _, key in ipairs(keys) do redis.call('PERSIST', key) end
end
return {'ok', stored, skipped}
"""
)

SEARCH_MEMORIES = """
-- Ranks one user's memories for a query with BM25, best first.
-- KEYS[1] meta  KEYS[2] time  KEYS[3] docs
-- KEYS[4..] the posting list of each distinct query term
-- ARGV[1] layout version  ARGV[2] top k  ARGV[3] k1  ARGV[4] b
-- ARGV[5] retention in ms (0 = none): older memories are not returned
-- Returns {'ok', id, JSON, score, id, JSON, score, ...} | {'version', v}.
-- score = sum over query terms t of
--   idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg len)),
--   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
-- Ties go to the newer memory, then to the smaller id. Read only.
-- Cost (MaxScore, exact): posting lists are read whole from the rarest term
-- up; once no memory outside the candidates can reach the top k (the
-- remaining terms add less than idf * (k1 + 1) each), the remaining, more
-- common terms are only looked up for the candidates that still can. So
-- the work grows with the query terms' posting lists, never with the
-- user's other memories; timestamps and JSON are read for the best only.
local CHUNK = 1000
local v = redis.call('HGET', KEYS[1], 'v')
if v and v ~= ARGV[1] then return {'version', v} end
local n = redis.call('ZCARD', KEYS[2])
if n == 0 then return {'ok'} end
local k = tonumber(ARGV[2])
local k1 = tonumber(ARGV[3])
local b = tonumber(ARGV[4])
local avgdl = (tonumber(redis.call('HGET', KEYS[1], 'len')) or 0) / n
if avgdl <= 0 then avgdl = 1 end
local cutoff = nil
if tonumber(ARGV[5]) > 0 then
  local t = redis.call('TIME')
  cutoff = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    - tonumber(ARGV[5])) / 1000
end

-- The terms present, rarest first; bound[i]: the most terms i.. can add.
local terms = {}
for t = 4, #KEYS do
  local df = redis.call('HLEN', KEYS[t])
  if df > 0 then
    -- Clamped: a stale posting list longer than N must not lower scores.
    terms[#terms + 1] = {key = KEYS[t], df = df,
      idf = math.max(0, math.log(1 + (n - df + 0.5) / (df + 0.5)))}
  end
end
if #terms == 0 then return {'ok'} end
table.sort(terms, function(x, y)
  if x.df ~= y.df then return x.df < y.df end
  return x.key < y.key
end)
local bound = {}
local sum = 0
for i = #terms, 1, -1 do
  sum = sum + terms[i].idf * (k1 + 1)
  bound[i] = sum
end

local function weight(idf, packed)
  local tf = packed % 1024
  local dl = (packed - tf) / 1024
  return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
end

-- Timestamps are looked up only for memories that may enter the top k;
-- false marks a memory that is gone or too old.
local times = {}
local function time_of(id)
  local t = times[id]
  if t == nil then
    t = tonumber(redis.call('ZSCORE', KEYS[2], id)) or false
    if t and cutoff and t < cutoff then t = false end
    times[id] = t
  end
  return t
end

local score = {}
local ids = {}
-- The k best returnable memories: higher score, then newer, then smaller id.
local function better(a, c)
  if score[a] ~= score[c] then return score[a] > score[c] end
  local ta, tc = time_of(a), time_of(c)
  if ta ~= tc then return ta > tc end
  return a < c
end
local function best(candidates)
  local top = {}
  for _, id in ipairs(candidates) do
    if (#top < k or score[id] >= score[top[#top]]) and time_of(id)
        and (#top < k or better(id, top[#top])) then
      local i = #top + 1
      top[i] = id
      while i > 1 and better(top[i], top[i - 1]) do
        top[i], top[i - 1] = top[i - 1], top[i]
        i = i - 1
      end
      if #top > k then top[#top] = nil end
    end
  end
  return top
end
-- A lower bound of the final k-th best score (scores only grow), or nil.
local function threshold()
  local top = best(ids)
  if #top < k then return nil end
  return score[top[k]]
end

local i = 1
while i <= #terms do
  if i > 1 then
    local theta = threshold()
    if theta and bound[i] <= theta then break end
  end
  local p = redis.call('HGETALL', terms[i].key)
  local idf = terms[i].idf
  for j = 1, #p, 2 do
    local id = p[j]
    local w = weight(idf, tonumber(p[j + 1]))
    local s = score[id]
    if s then
      score[id] = s + w
    else
      score[id] = w
      ids[#ids + 1] = id
    end
  end
  i = i + 1
end

if i <= #terms then
  -- Only candidates that can still reach the threshold are looked up.
  local theta = threshold()
  local alive = {}
  for _, id in ipairs(ids) do
    if score[id] + bound[i] >= theta then alive[#alive + 1] = id end
  end
  for t = i, #terms do
    local idf = terms[t].idf
    for c = 1, #alive, CHUNK do
      local part = {}
      for j = c, math.min(c + CHUNK - 1, #alive) do part[#part + 1] = alive[j] end
      local got = redis.call('HMGET', terms[t].key, unpack(part))
      for j = 1, #part do
        if got[j] then
          score[part[j]] = score[part[j]] + weight(idf, tonumber(got[j]))
        end
      end
    end
  end
  ids = alive
end

local top = best(ids)
if #top == 0 then return {'ok'} end
local docs = redis.call('HMGET', KEYS[3], unpack(top))
local out = {'ok'}
for j, id in ipairs(top) do
  if docs[j] then
    out[#out + 1] = id
    out[#out + 1] = docs[j]
    out[#out + 1] = string.format('%.17g', score[id])
  end
end
return out
"""

DELETE_MEMORY = (
    """
-- Deletes one memory and its postings, and leaves a tombstone so that
-- re-adding its session does not bring it back.
-- KEYS[1..5] meta, time, docs, terms, gone
-- ARGV[1] posting key prefix  ARGV[2] layout version  ARGV[3] memory id
-- Returns {'ok', 1} (deleted) | {'ok', 0} (not stored) | {'corrupt', key} |
-- {'version', v}. All checks before the first write.
"""
    + _COMMON
    + """
local failed = check_layout(ARGV[2])
if failed then return failed end
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 0 then return {'ok', 0} end
local ts = redis.call('ZSCORE', KEYS[2], ARGV[3]) or '0'
remove(ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[5], ts, ARGV[3])
-- The tombstone lives as long as the index (see ADD_MEMORIES).
local deadline = redis.call('PEXPIRETIME', KEYS[1])
if deadline > 0 then
  redis.call('PEXPIREAT', KEYS[5], deadline)
else
  redis.call('PERSIST', KEYS[5])
end
return {'ok', 1}
"""
)
