-- Appended by bench/harness to every scenario script: done() prints one
-- JSON line the harness reads (wrk's own --latency output stops at p99).
-- A scenario that runs out of pre-minted users sets "exhausted" in its
-- thread; the harness then flags the figure.
function done(summary, latency, requests)
  local exhausted = 0
  for _, t in ipairs(fg_threads or {}) do
    if t:get("exhausted") then exhausted = exhausted + 1 end
  end
  io.write(string.format(
    'FGJSON {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,' ..
    '"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"exhausted_threads":%d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    exhausted))
end
