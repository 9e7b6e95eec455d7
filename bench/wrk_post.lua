-- POST a 1 KB JSON document to /echo.
local items = {}
for i = 1, 36 do items[#items + 1] = string.format('{"id":%d,"name":"item-%04d"}', i, i) end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = "[" .. table.concat(items, ",") .. "]"
