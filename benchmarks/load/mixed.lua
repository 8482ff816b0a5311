-- A day's mix of traffic for benchmarks/load/run.py (wrk 4, LuaJIT).
--
--   wrk -c 64 -d 60s -s benchmarks/load/mixed.lua http://127.0.0.1:PORT -- DATA.lua
--
-- DATA.lua (written by run.py) returns the workspaces' keys and ids and the feed paths.
-- Each request is drawn by weight: mostly calendar feed polls and API reads, some slot
-- searches and plan previews, a few writes. done() prints one line "LOAD-RESULT {json}".

local WEIGHTS = {
  -- calendar apps polling a feed they already hold (If-None-Match: the ETag they last saw)
  { "feed_conditional", 45 },
  -- clients that never revalidate (and new subscribers): the full document
  { "feed_full", 15 },
  -- the REST API behind dashboards, the Slack command and integrations
  { "read", 34 },
  { "search", 3 },
  { "plan", 2 },
  { "write_name", 0.4 },
  { "write_time_off", 0.6 }, -- POST, or DELETE one this thread created earlier
}

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
  table.insert(threads, thread)
end

local data, total_weight
sent = {}    -- class -> requests sent (globals: done() reads them with thread:get)
status = {}  -- HTTP status -> responses
local etags = {}       -- feed index -> the ETag this "client" last saw
local pending_off = {} -- {participant index, time-off id} created and not yet deleted

function init(args)
  data = dofile(args[1])
  if data.weights then WEIGHTS = data.weights end -- run.py --only: one class at a time
  math.randomseed(data.seed + 7919 * thread_number)
  total_weight = 0
  for _, w in ipairs(WEIGHTS) do total_weight = total_weight + w[2] end
  for i, feed in ipairs(data.feeds) do etags[i] = feed.etag end
  for _, w in ipairs(WEIGHTS) do sent[w[1]] = 0 end
end

local function pick(list) return list[math.random(#list)] end

local function auth(ws, extra)
  local headers = { ["Authorization"] = "Bearer " .. ws.key }
  for k, v in pairs(extra or {}) do headers[k] = v end
  return headers
end

local JSON = { ["Content-Type"] = "application/json" }

local build = {}

function build.feed_conditional()
  local i = math.random(#data.feeds)
  return wrk.format("GET", data.feeds[i].path, { ["If-None-Match"] = etags[i] })
end

function build.feed_full()
  return wrk.format("GET", pick(data.feeds).path, {})
end

function build.read()
  local ws = pick(data.workspaces)
  local r = math.random(7)
  local path
  if r == 1 then path = "/v1/parties"
  elseif r == 2 then path = "/v1/participants"
  elseif r == 3 then path = "/v1/participants/" .. pick(ws.participants).id
  elseif r == 4 then path = "/v1/series"
  elseif r == 5 then path = "/v1/series/" .. pick(ws.series)
  elseif r == 6 then path = "/v1/series/" .. pick(ws.series) .. "/occurrences"
  else path = "/v1/series/" .. pick(ws.series) .. "/balance" end
  return wrk.format("GET", path, auth(ws))
end

function build.search()
  local ws = pick(data.workspaces)
  local ids = pick(ws.search_sets)
  local body = string.format(
    '{"participant_ids":["%s"],"duration_minutes":%d,"start":"%s","end":"%s",' ..
    '"step_minutes":15,"limit":10}',
    table.concat(ids, '","'), pick({ 30, 60, 90 }), data.search_start, data.search_end)
  return wrk.format("POST", "/v1/slots/search", auth(ws, JSON), body)
end

function build.plan()
  local ws = pick(data.workspaces)
  return wrk.format("POST", "/v1/series/" .. pick(ws.series) .. "/plan", auth(ws))
end

function build.write_name()
  local ws = pick(data.workspaces)
  local person = pick(ws.participants)
  local name = pick({ person.name, person.alt_name })
  return wrk.format("PATCH", "/v1/participants/" .. person.id, auth(ws, JSON),
    '{"name":"' .. name .. '"}')
end

function build.write_time_off()
  if #pending_off > 0 and math.random(2) == 1 then
    local off = table.remove(pending_off, 1)
    local ws = data.workspaces[off.ws]
    return wrk.format("DELETE",
      "/v1/participants/" .. off.participant .. "/time-off/" .. off.id, auth(ws))
  end
  local w = math.random(#data.workspaces)
  local ws = data.workspaces[w]
  local person = pick(ws.participants)
  local day = pick(data.time_off_days)
  return wrk.format("POST", "/v1/participants/" .. person.id .. "/time-off", auth(ws, JSON),
    '{"start_date":"' .. day .. '","end_date":"' .. day .. '","note":"load test"}')
end

function request()
  local r = math.random() * total_weight
  local class = WEIGHTS[#WEIGHTS][1]
  for _, w in ipairs(WEIGHTS) do
    if r < w[2] then class = w[1]; break end
    r = r - w[2]
  end
  sent[class] = sent[class] + 1
  return build[class]()
end

local function header(headers, name)
  return headers[name] or headers[name:lower()]
end

function response(code, headers, body)
  status[code] = (status[code] or 0) + 1
  if code == 200 then
    local kind = header(headers, "Content-Type") or ""
    if kind:find("text/calendar", 1, true) then
      -- Remember the ETag this feed now has, as a calendar app would.
      local name = body:match("\r\nX%-WR%-CALNAME:([^\r]*)\r\n")
      local i = name and data.feed_by_name[name]
      if i then etags[i] = header(headers, "ETag") end
    end
  elseif code == 201 and body:find('"start_date"', 1, true) then
    local id = body:match('"id":"([%x%-]+)"')
    local participant = body:match('"participant_id":"([%x%-]+)"')
    local ws = data.workspace_of[participant]
    if id and ws then table.insert(pending_off, { ws = ws, participant = participant, id = id }) end
  end
end

local function json_map(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, string.format('"%s":%d', tostring(k), v)) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local sent_all, status_all = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("sent")) do sent_all[k] = (sent_all[k] or 0) + v end
    for k, v in pairs(t:get("status")) do status_all[k] = (status_all[k] or 0) + v end
  end
  local e = summary.errors
  local pct = {}
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    table.insert(pct, string.format('"%s":%d', tostring(p), latency:percentile(p)))
  end
  io.write(string.format(
    'LOAD-RESULT {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"latency_us":{"mean":%.0f,"max":%d,"percentiles":{%s}},"sent":%s,"status":%s}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.mean, latency.max, table.concat(pct, ","), json_map(sent_all), json_map(status_all)))
end
