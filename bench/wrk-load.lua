-- The wrk (https://github.com/wg/wrk) side of bench/wrk-load.ts: POST /checkout with a new
-- Idempotency-Key per request, or POST /webhooks/stripe with the signed events bench/wrk-load.ts
-- wrote, closed loop (each connection sends its next request when its last is answered).
-- Arguments after wrk's `--`: kind (checkout | webhook), the leg's folder, the Idempotency-Key
-- prefix, then each thread's quota of requests (0: as many as -d allows).
-- Each thread writes every answer to <folder>/answers-<thread>.txt as "status<TAB>body" for
-- bench/wrk-load.ts to check; done() prints the leg's numbers as one JSON line.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *time);
]]
local timespec = ffi.new("bench_timespec")
local CLOCK_MONOTONIC = 1

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end

-- The main script state: the threads, for done().
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

-- Each thread's state. Globals are read by done() through thread:get().
first_us, last_us, answered = 0, 0, 0
local kind, quota, key_prefix, checkout_body, events, answers
local sent, reserved, next_event = 0, 0, 0

local function read_file(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

function init(args)
  kind, key_prefix = args[1], args[3]
  quota = tonumber(args[4 + id])
  answers = assert(io.open(args[2] .. "/answers-" .. id .. ".txt", "wb"))
  if kind == "checkout" then
    checkout_body = read_file(args[2] .. "/checkout-body.json")
  else
    events = {}
    for line in io.lines(args[2] .. "/events-" .. id .. ".txt") do
      local signature, body = line:match("^([^\t]*)\t(.*)$")
      events[#events + 1] = { signature, body }
    end
  end
  if quota > 0 then
    -- wrk asks delay() before every request of a connection: past the quota a connection waits a
    -- day, so no request beyond it is ever sent (the thread stops once the quota is answered).
    function delay()
      if reserved >= quota then return 86400000 end
      reserved = reserved + 1
      return 0
    end
  end
end

function request()
  if first_us == 0 then first_us = now_us() end
  sent = sent + 1
  if kind == "checkout" then
    return wrk.format("POST", "/checkout", {
      ["Content-Type"] = "application/json", ["Idempotency-Key"] = key_prefix .. "-" .. id .. "-" .. sent,
    }, checkout_body)
  end
  -- wrk calls request() once before the run to check what it builds: before any delay(). Each
  -- request after that follows its own delay(), so no more events are taken than reserved.
  local event = events[1]
  if reserved > 0 then
    next_event = next_event + 1
    event = events[next_event]
  end
  return wrk.format("POST", "/webhooks/stripe", { ["Content-Type"] = "application/json", ["Stripe-Signature"] = event[1] }, event[2])
end

function response(status, headers, body)
  last_us = now_us()
  answered = answered + 1
  answers:write(status, "\t", (body:gsub("[\r\n]", "")), "\n")
  if quota > 0 and answered >= quota then
    answers:flush()
    io.stderr:write("wrk-load: thread ", id, " answered its quota\n")
    io.stderr:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total, first, last = 0, math.huge, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("answered")
    local f, l = thread:get("first_us"), thread:get("last_us")
    if f > 0 and f < first then first = f end
    if l > last then last = l end
  end
  -- proc(5): utime and stime (fields 14 and 15, in clock ticks) of the whole process, all threads.
  local stat = read_file("/proc/self/stat")
  local fields = {}
  for field in stat:sub(stat:find("%)[^)]*$") + 2):gmatch("%S+") do fields[#fields + 1] = field end
  local e = summary.errors
  io.write(string.format(
    '{"answered":%d,"seconds":%.6f,"p50":%.3f,"p95":%.3f,"p99":%.3f,"errors":%d,"timeouts":%d,"cpuTicks":%d}\n',
    total, total > 0 and (last - first) / 1e6 or 0, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, e.connect + e.read + e.write, e.timeout, tonumber(fields[12]) + tonumber(fields[13])))
end
