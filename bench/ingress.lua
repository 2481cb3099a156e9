-- bench/ingress.lua — wrk's script for bench/ingress: POSTs one fixed JSON body as GitHub signs
-- it, each request with an X-GitHub-Delivery of its own, so that hookd-ingress's duplicate check
-- (a Redis round trip) runs for every request, as it does in production. The same script is used
-- against nginx, so that wrk's own cost is the same on both sides.
--
--   wrk -t1 -c64 -d5s -s bench/ingress.lua URL -- BODY-FILE SIGNATURE RUN-ID
--
--   BODY-FILE  the body, sent as it is (application/json)
--   SIGNATURE  X-Hub-Signature-256's value for that body ("sha256=" + hex HMAC-SHA256), computed
--              once by the caller; the secret itself never reaches this script
--   RUN-ID     the delivery ids' prefix: <RUN-ID>-<wrk thread>-<n>, so no two requests of a
--              run (or of two phases of it) share one
--
-- BENCH_RATE (environment, read when the script loads): requests/s over all of wrk's threads.
-- Set, the script defines delay() and paces the requests to that rate: each request claims the
-- next slot of a fixed schedule and waits for it; a connection still waiting for its answer
-- claims a later one, so the rate holds while fewer than all connections are busy. wrk's latency
-- is then from a request's write to its response (wrk 4 is not wrk2: a late answer delays that
-- connection's next request instead of counting as queueing). The achieved rate is printed.
--
-- done() prints one line for bench/ingress:
--   BENCH requests duration-us connect-errors read-errors write-errors status-errors timeouts
--         p50-us p99-us max-us
-- where status-errors are the responses with a status above 399 (wrk's "Non-2xx or 3xx").

local counter = 0
local body, signature, run
local headers = {}

local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

function init(args)
    if #args < 3 then
        error("usage: wrk ... -s bench/ingress.lua URL -- BODY-FILE SIGNATURE RUN-ID")
    end
    local f = assert(io.open(args[1], "rb"))
    body = f:read("*a")
    f:close()
    signature, run = args[2], args[3]
    headers["Content-Type"] = "application/json"
    headers["User-Agent"] = "GitHub-Hookshot/bench"
    headers["X-GitHub-Event"] = "push"
    headers["X-GitHub-Hook-ID"] = "1"
    headers["X-Hub-Signature-256"] = signature
end

function request()
    counter = counter + 1
    headers["X-GitHub-Delivery"] = string.format("%s-%d-%d", run, tid or 0, counter)
    return wrk.format("POST", nil, headers, body)
end

local rate = tonumber(os.getenv("BENCH_RATE") or "")
if rate and rate > 0 then
    local ffi = require("ffi")
    ffi.cdef [[
        typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
        int clock_gettime(int clk, bench_timespec *ts);
    ]]
    local ts = ffi.new("bench_timespec")
    local function now_ms()
        ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
        return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
    end
    local next_slot
    local per_thread = tonumber(os.getenv("BENCH_WRK_THREADS") or "1") or 1
    local interval = 1000 / (rate / per_thread)
    function delay()
        local now = now_ms()
        -- never catch up on slots missed while every connection was busy: that would be a burst
        local slot = (next_slot and next_slot > now) and next_slot or now
        next_slot = slot + interval
        return slot - now
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("BENCH %d %d %d %d %d %d %d %.0f %.0f %.0f\n", summary.requests,
        summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(99), latency.max))
end
