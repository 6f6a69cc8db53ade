-- loadgen's wrk script (wrk.go). Arguments after "--": METHOD PATH
-- [BODIES_FILE]. With a bodies file, each request carries the next body
-- (one per line, as JSON); every thread starts at another place in the
-- list. When the run ends, it prints lines wrk.go parses.

local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local reqs, n, i = {}, 0, 0

function init(args)
  local method, path, file = args[1], args[2], args[3]
  if file ~= nil and file ~= "" then
    for line in io.lines(file) do
      n = n + 1
      reqs[n] = wrk.format(method, path, {["Content-Type"] = "application/json"}, line)
    end
  end
  if n == 0 then
    n = 1
    reqs[1] = wrk.format(method, path)
  end
  i = ((tid or 0) * 7919) % n
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("loadgen-wrk summary %d %d %d %d %.1f %d\n",
    summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency.mean, latency.max))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("loadgen-wrk pct %g %d\n", p, latency:percentile(p)))
  end
end
