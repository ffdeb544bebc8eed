-- wrk script: POST /releases/{n}/transitions in a rework/advance loop (Plan and Design ->
-- Assess -> Plan and Design ...), with the session cookie and CSRF token of a signed-in user.
-- `tests/bench/run` writes the data file this reads (BENCH_DATA): the releases with their
-- current version and whether they are in Plan and Design (else in Assess), the two
-- transition ids, the cookie and the token. Each wrk thread takes
-- every nth release and cycles through them, so one release is never posted twice at once
-- (there are many more releases than connections) and its version is known: each post that
-- commits bumps it by one. The run's committed transitions are counted in the database.
local data = dofile(os.getenv("BENCH_DATA"))
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
  mine = {}
  for i = 1 + tid, #data.releases, nthreads do
    local r = data.releases[i]
    mine[#mine + 1] = { n = r[1], v = r[2], in_plan = r[3] }
  end
  pos = 0
end

function request()
  pos = pos % #mine + 1
  local r = mine[pos]
  local body
  if r.in_plan then
    body = "csrf_token=" .. data.csrf .. "&transition=" .. data.rework .. "&version=" .. r.v .. "&reason=Load+test%3A+back+to+assessment"
  else
    body = "csrf_token=" .. data.csrf .. "&transition=" .. data.advance .. "&version=" .. r.v .. "&reason="
  end
  r.in_plan = not r.in_plan
  r.v = r.v + 1
  return wrk.format("POST", "/releases/" .. r.n .. "/transitions", {
    ["Cookie"] = data.cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end
