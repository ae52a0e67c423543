-- wrk script for bench/run.py. Environment:
--   BENCH_AUTH     Authorization header value (empty: none)
--   BENCH_MODE     "add": POST distinct (product, partner) pairs; anything else: plain GET
--   BENCH_ADD_PATH path template with %d for the product id (add mode)
--   BENCH_PRODUCTS comma-separated product ids to add partners to (add mode)
--   BENCH_PARTNER_FIRST / BENCH_PARTNER_COUNT  partner businesses biz-NNNNNN to use (add mode)
--   BENCH_OFFSET   first pair index (so that runs never reuse each other's pairs)
--   BENCH_THREADS  wrk's thread count (threads take interleaved pair indexes)
-- Prints one line "BENCH_RESULT {json}" when done.

local auth = os.getenv("BENCH_AUTH") or ""
local mode = os.getenv("BENCH_MODE") or "get"

wrk.headers["Accept"] = "application/json"
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
end

if mode == "add" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local path_template = os.getenv("BENCH_ADD_PATH")
  local products = {}
  for id in string.gmatch(os.getenv("BENCH_PRODUCTS"), "%d+") do
    table.insert(products, tonumber(id))
  end
  local first = tonumber(os.getenv("BENCH_PARTNER_FIRST"))
  local count = tonumber(os.getenv("BENCH_PARTNER_COUNT"))
  local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
  local n = 0
  local stride = tonumber(os.getenv("BENCH_THREADS") or "1")

  function init(args)
    -- Threads interleave: thread t takes pair indexes t, t + stride, t + 2 * stride, ...
    n = offset + (tid or 0)
  end

  function request()
    local p = products[(n % #products) + 1]
    local partner = first + (math.floor(n / #products) % count)
    n = n + stride
    local body = string.format('{"partner_unique_id":"biz-%06d"}', partner)
    return wrk.format(nil, string.format(path_template, p), nil, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,'
      .. '"mean_us":%.1f,"max_us":%d,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
