-- wrk script for bench/abuse.py: every request carries a new, well-formed, bogus API key
-- (a random prefix and secret), the flood a key lookup cache cannot absorb.
math.randomseed(os.time())

local hex = "0123456789abcdef"

local function random_hex(n)
  local out = {}
  for i = 1, n do
    local k = math.random(1, 16)
    out[i] = hex:sub(k, k)
  end
  return table.concat(out)
end

request = function()
  local key = "ppk_" .. random_hex(12) .. "_" .. random_hex(43)
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. key })
end
