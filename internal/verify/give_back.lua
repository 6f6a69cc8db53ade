-- give_back.lua: put a lease's unused units back into a quota window
-- (lease.go). KEYS[1] the window's count, KEYS[2] its units by instance;
-- ARGV[1] this instance's field, ARGV[2] the units. Only while both hold
-- this instance's part: a window Redis lost, or one re-seeded from the
-- database (which counts granted calls only), never had the units.
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DECRBY', KEYS[1], ARGV[2])
  redis.call('HINCRBY', KEYS[2], ARGV[1], -tonumber(ARGV[2]))
  return 1
end
return 0
