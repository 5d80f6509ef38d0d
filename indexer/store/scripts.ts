// Lua scripts run atomically inside Redis (kept as strings so the compiled package needs no extra files).

export const APPLY_DOCUMENT = String.raw`
-- Atomically replace a document's chunks. Idempotent: an older or equal version, or a version at or
-- below the document's deletion tombstone, changes nothing, so retried or duplicated jobs are harmless.
-- An equal version answers 'current' (this very write was applied before, e.g. by an attempt that then
-- died), an older one 'stale', so a retry can still finish what follows the write.
-- KEYS: 1 doc, 2 tombstone, 3 docs zset, 4 chunks set, 5 log stream, 6 collection meta, 7 collections set,
--       8.. chunk keys of the NEW chunk list (same order as the chunk ARGV triples)
-- ARGV: 1 version, 2 doc meta json (chunkIds filled), 3 doc text, 4 embedder id, 5 embedder dim,
--       6 collection name, 7 now ms, 8 chunk key prefix, 9 new chunk count n, 10 document id,
--       then n triples: chunk id, chunk json, vector bytes
local version = tonumber(ARGV[1])
local tomb = tonumber(redis.call('GET', KEYS[2]) or '0')
if version <= tomb then return {0, 'deleted'} end

local cur = redis.call('HGET', KEYS[1], 'meta')
local oldIds = {}
if cur then
  local m = cjson.decode(cur)
  if m.version == version then return {0, 'current'} end
  if m.version > version then return {0, 'stale'} end
  for _, id in ipairs(m.chunkIds) do oldIds[id] = true end
end

local emb = redis.call('HGET', KEYS[6], 'embedder')
if emb then
  local e = cjson.decode(emb)
  if e.id ~= ARGV[4] or tonumber(e.dim) ~= tonumber(ARGV[5]) then
    return {-1, e.id, tostring(e.dim)}
  end
else
  redis.call('HSET', KEYS[6], 'embedder', cjson.encode({id = ARGV[4], dim = tonumber(ARGV[5])}), 'createdAt', ARGV[7])
end
redis.call('SADD', KEYS[7], ARGV[6])

local n = tonumber(ARGV[9])
local newIds = {}
local added, removed = 0, 0
for i = 1, n do
  local base = 10 + (i - 1) * 3
  local id = ARGV[base + 1]
  newIds[id] = true
  if not oldIds[id] then
    redis.call('HSET', KEYS[7 + i], 'meta', ARGV[base + 2], 'vec', ARGV[base + 3])
    redis.call('SADD', KEYS[4], id)
    redis.call('XADD', KEYS[5], '*', 'op', 'add', 'chunk', id)
    added = added + 1
  end
end
for id, _ in pairs(oldIds) do
  if not newIds[id] then
    redis.call('DEL', ARGV[8] .. id)
    redis.call('SREM', KEYS[4], id)
    redis.call('XADD', KEYS[5], '*', 'op', 'del', 'chunk', id)
    removed = removed + 1
  end
end
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'text', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[10])
return {1, 'applied', added, removed}
`;

export const DELETE_DOCUMENT = String.raw`
-- Delete a document and its chunks, and leave a tombstone version so in-flight ingests of older
-- versions cannot bring it back.
-- KEYS: 1 doc, 2 tombstone, 3 docs zset, 4 chunks set, 5 log stream, 6 version counter
-- ARGV: 1 chunk key prefix, 2 document id
local v = redis.call('INCR', KEYS[6])
redis.call('SET', KEYS[2], v)
local cur = redis.call('HGET', KEYS[1], 'meta')
if not cur then return 0 end
local m = cjson.decode(cur)
for _, id in ipairs(m.chunkIds) do
  redis.call('DEL', ARGV[1] .. id)
  redis.call('SREM', KEYS[4], id)
  redis.call('XADD', KEYS[5], '*', 'op', 'del', 'chunk', id)
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
`;
