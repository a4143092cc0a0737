-- wrk_api.lua: GET requests with a random id per request, for
-- bench/api_reads.py.
--
--   wrk ... -s bench/wrk_api.lua URL -- PATH_FORMAT IDS_FILE KEY
--
-- PATH_FORMAT has one %s for the id ("/task/run/%s"); IDS_FILE holds one
-- id a line ("-" when the path takes none); KEY is the bearer key ("-":
-- none). Prints one line "RESULT requests duration_us p50_us p99_us
-- mean_us non2xx socket_errors" when done.

local ids = {}
local fmt = "/"
local headers = {}
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("seed", counter)
end

function init(args)
	fmt = args[1]
	if args[2] ~= nil and args[2] ~= "-" then
		for line in io.lines(args[2]) do
			ids[#ids + 1] = line
		end
	end
	if args[3] ~= nil and args[3] ~= "-" then
		headers["Authorization"] = "Bearer " .. args[3]
	end
	math.randomseed(os.time() * 1000 + (seed or 0))
end

function request()
	local path = fmt
	if #ids > 0 then
		path = string.format(fmt, ids[math.random(#ids)])
	end
	return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %d %.0f %.0f %.0f %d %d\n",
		summary.requests, summary.duration, latency:percentile(50),
		latency:percentile(99), latency.mean, e.status,
		e.connect + e.read + e.write + e.timeout))
end
