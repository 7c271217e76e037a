-- Replays pre-signed Twilio webhooks: each line of REQUESTS is "signature<TAB>form body".
-- Thread k of n takes lines k, k+n, k+2n, …, so every MessageSid goes out once.
local path = "/twilio/messages"
local threads, counter = {}, 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file = os.getenv("REQUESTS")
  local total = tonumber(os.getenv("THREADS") or "1")
  requests, n = {}, 0
  local i = 0
  for line in io.lines(file) do
    if i % total == id - 1 then
      local tab = line:find("\t", 1, true)
      local headers = {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = line:sub(1, tab - 1),
      }
      n = n + 1
      requests[n] = wrk.format("POST", path, headers, line:sub(tab + 1))
    end
    i = i + 1
  end
  nxt = 0
  exhausted = 0
end

function request()
  nxt = nxt + 1
  if nxt > n then nxt, exhausted = 1, exhausted + 1 end
  return requests[nxt]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
