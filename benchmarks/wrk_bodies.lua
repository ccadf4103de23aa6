-- wrk script: POST prepared bodies, one per line of the file given as the first argument,
-- each thread cycling over them from its own starting line.
-- With a second argument (an id prefix), each line is a decision body without its opening
-- `{"application_id":...,` and every request gets a unique id: <prefix>-<thread>-<counter>,
-- so no request is an idempotent replay. Without it, lines are sent as they are (the peer).
-- done() prints one line `WRK_JSON {...}` that benchmarks/wrk.py parses.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  prefix = args[2]
  n = 0
  offset = ((tid or 1) - 1) * 997
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  -- The API key comes from the environment, not the command line (visible in `ps`).
  local auth = os.getenv("BENCH_AUTHORIZATION")
  if auth and #auth > 0 then wrk.headers["Authorization"] = auth end
end

function request()
  n = n + 1
  local body = bodies[(offset + n - 1) % #bodies + 1]
  if prefix then
    body = '{"application_id":"' .. prefix .. "-" .. tid .. "-" .. n .. '",' .. body
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local q = {}
  for _, p in ipairs({50, 90, 95, 99, 99.9}) do
    q[#q + 1] = string.format('"%s":%d', tostring(p), latency:percentile(p))
  end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"stdev":%.1f,"percentiles":{%s}}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency.stdev, table.concat(q, ",")))
end
