-- take.lua: check a key's generation, then take cost from its GCRA rate
-- limit and its quota window, atomically: one round trip per verification.
-- Loaded by redis_limits.go (go:embed); the result codes below are the
-- Go constants script* there, keep both in step.
--
-- KEYS[2] and KEYS[4] are the quota window and its units by instance: the
-- key's own, or for a pooled key its account's pool's, with KEYS[5] the
-- key's own window, and KEYS[6] the account's change counter. All are
-- tagged with the account, in one slot.
--
-- The GCRA arithmetic is the one copy outside gcra.go, which it mirrors:
-- a script cannot call Go, and a second round trip would double the cost
-- of a verification.
--
-- Times are the calling instance's clock (ARGV[1]), not Redis TIME: the
-- verifier's clock is injected (tests drive it), the same instant decides
-- the quota window in Go and here, and a fallback to local counting
-- continues from the same times. The price is clock skew: an instance
-- whose clock is d ahead sees every key's tat d sooner, so it grants up to
-- d × rate calls early after another instance's burst (and one behind
-- refuses for d longer). NTP keeps d to milliseconds, a few calls at most.
local OK, RATE_LIMITED, QUOTA_EXCEEDED, STALE, NO_WINDOW = 0, 1, 2, 3, 4

-- One MGET reads the generation, the window's count and the rate state:
-- each command a script runs costs Redis a dispatch, and Redis's CPU is
-- what bounds the verifications of every instance together. (The mode
-- branch below writes only KEYS[2] and KEYS[4], so tat read here is
-- still current where it is used.)
local got
if KEYS[6] then
  got = redis.call('MGET', KEYS[3], KEYS[2], KEYS[1], KEYS[6])
else
  got = redis.call('MGET', KEYS[3], KEYS[2], KEYS[1])
end
local gen = tonumber(got[1] or '0')
if ARGV[8] ~= 'any' and gen ~= tonumber(ARGV[8]) then return {STALE, 0, 0, gen} end
-- A pooled key's entry is of its pool's epoch (ARGV[11], the account's
-- change counter KEYS[6] when it was read): after an account change (a
-- key joining or leaving the pool, another plan) it is stale, whether or
-- not the change named this key.
if KEYS[6] and ARGV[11] ~= 'any' and tonumber(got[4] or '0') ~= tonumber(ARGV[11]) then return {STALE, 0, 0, gen} end
local now, interval, tol = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost, quota = tonumber(ARGV[4]), tonumber(ARGV[5])
local used = tonumber(got[2] or '-1')
local mode = ARGV[10]
if mode == '0' then
  if used < 0 then return {NO_WINDOW, 0, 0, gen} end
else
  local floor, mine, owed, unflushed = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
  local had = redis.call('HGET', KEYS[4], ARGV[9])
  if used < 0 then
    used = floor + unflushed
    redis.call('SET', KEYS[2], used, 'EX', ARGV[6])
    redis.call('HSET', KEYS[4], ARGV[9], mine)
  elseif not had then
    used = redis.call('INCRBY', KEYS[2], unflushed)
    redis.call('HSET', KEYS[4], ARGV[9], mine)
  elseif mode == '1' then
    local d = mine - tonumber(had)
    used = redis.call('INCRBY', KEYS[2], d)
    redis.call('HINCRBY', KEYS[4], ARGV[9], d)
  else
    used = redis.call('INCRBY', KEYS[2], owed)
    redis.call('HINCRBY', KEYS[4], ARGV[9], owed)
  end
  redis.call('EXPIRE', KEYS[4], ARGV[6])
end
local tat = tonumber(got[3] or '0')
if tat < now then tat = now end
if ARGV[7] == '0' then return {OK, tat, used, gen} end
local nexttat = tat + interval * cost
if nexttat - now > tol then return {RATE_LIMITED, tat, used, gen} end
if used + cost > quota then return {QUOTA_EXCEEDED, tat, used, gen} end
if cost > 0 then
  redis.call('SET', KEYS[1], nexttat, 'PX', math.floor((nexttat - now) / 1000) + 1000)
  used = redis.call('INCRBY', KEYS[2], cost)
  if redis.call('HINCRBY', KEYS[4], ARGV[9], cost) == cost then
    redis.call('EXPIRE', KEYS[4], ARGV[6])
  end
  -- A pooled key (KEYS[2] is its account's pool): its own window, when it
  -- has one, goes on too, so that a return to quotas per key finds it
  -- right. One that does not exist stays so: it is seeded from the
  -- database when it is needed.
  if KEYS[5] and redis.call('EXISTS', KEYS[5]) == 1 then
    redis.call('INCRBY', KEYS[5], cost)
  end
end
return {OK, nexttat, used, gen}
