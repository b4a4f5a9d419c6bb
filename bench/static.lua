-- wrk script: the pre-rendered product page, as a CDN edge or a browser
-- without cache would fetch it during a sale.
--   wrk -t2 -c64 -d10s -s bench/static.lua http://127.0.0.1:8080
wrk.method = "GET"
wrk.path = "/p/phone-x"
wrk.headers["Accept-Encoding"] = "gzip"

function response(status, headers, body)
  if status ~= 200 then
    error("unexpected status " .. status)
  end
end
