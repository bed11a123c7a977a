-- wrk script: chart reads through the JSON API by one signed-in clinician.
-- TOKEN and IDS (comma-separated patient ids) come from the environment;
-- scripts/bench.sh sets them.
local token = os.getenv("TOKEN")
local ids = {}
for id in string.gmatch(os.getenv("IDS") or "", "[^,]+") do ids[#ids + 1] = id end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/v1/patients/" .. ids[(n % #ids) + 1] .. "/chart", { ["Authorization"] = "Bearer " .. token })
end
local bad = 0
response = function(status) if status ~= 200 then bad = bad + 1 end end
done = function() io.write(string.format("non-200 responses: %d\n", bad)) end
