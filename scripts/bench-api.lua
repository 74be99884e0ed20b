-- wrk script for scripts/bench-api: POST /v1/messages with a unique external id per request (and
-- a different customer for most of them), so every accepted request must be one stored message.
-- Environment: CLUBOS_BENCH_TOKEN (a service token), CLUBOS_BENCH_RUN (prefix of the ids).
local threads = {}
local token = os.getenv("CLUBOS_BENCH_TOKEN")
local run = os.getenv("CLUBOS_BENCH_RUN") or "run"
local counter = 0
-- `tid` is a global of each thread's Lua state, set by setup() (a local here would hide it).

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  assert(tid ~= nil, "setup() gives each thread its id")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  -- Customers differ between threads and requests (10 million of them).
  local customer = (counter * 2 + tid) % 10000000
  local body = string.format(
    '{"from":"+1555%07d","to":"+15555550199","body":"the trackman in bay 3 is frozen","external_id":"%s-%d-%d"}',
    customer, run, tid, counter)
  return wrk.format(nil, "/v1/messages", nil, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non_2xx":%d,"timeouts":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.timeout,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
