-- wrk script: the product page, gzip variant, as a browser or a CDN edge
-- without cache fetches it during a sale.
--   wrk -t2 -c128 -d10s -s bench/page_gzip.lua http://127.0.0.1:8088
wrk.method = "GET"
wrk.path = os.getenv("FG_PATH") or "/p/phone-x"
wrk.headers["Accept-Encoding"] = "gzip"
