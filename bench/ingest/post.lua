-- wrk script of the ingestion benchmark: each request is a new, distinct API delivery.
-- Environment: INGEST_TOKEN (the channel's API token), INGEST_RUN (the run's id, sent as
-- utm_campaign), INGEST_PHONE_BASE (first phone number of this phase), INGEST_STRIDE (phone
-- numbers per thread). Runs for wrk's --duration. Prints one line, "INGEST {json}", with the
-- counts and latencies at the end.
local token = os.getenv("INGEST_TOKEN")
local run = os.getenv("INGEST_RUN")
local base = tonumber(os.getenv("INGEST_PHONE_BASE"))
local stride = tonumber(os.getenv("INGEST_STRIDE"))
local threads = {}
local count = 0

function setup(thread)
   thread:set("tid", count)
   count = count + 1
   table.insert(threads, thread)
end

function init(args)
   sent, accepted, duplicate, refused = 0, 0, 0, 0
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
   local n = base + tid * stride + sent
   sent = sent + 1
   local body = string.format(
      '{"name": "Нагрузка %d", "phone": "+79%09d", "email": "w%d@%s.ingest.bench",' ..
      ' "utm_campaign": "%s", "message": "Хочу узнать цену"}', n, n, n, run, run)
   return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
   -- 200: a delivery wrk sent again on a new connection, already stored (not a new lead).
   if status == 202 then
      accepted = accepted + 1
   elseif status == 200 then
      duplicate = duplicate + 1
   else
      refused = refused + 1
   end
end

function done(summary, latency, requests)
   local a, d, r = 0, 0, 0
   for _, thread in ipairs(threads) do
      a = a + thread:get("accepted")
      d = d + thread:get("duplicate")
      r = r + thread:get("refused")
   end
   io.write(string.format(
      'INGEST {"accepted": %d, "duplicate": %d, "refused": %d, "requests": %d, ' ..
      '"seconds": %.3f, ' ..
      '"p50_ms": %.2f, "p99_ms": %.2f, "errors": %d}\n',
      a, d, r, summary.requests, summary.duration / 1e6,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.status + summary.errors.timeout))
end
