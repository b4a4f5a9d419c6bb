-- wrk script: the product page, plain, as a client without gzip fetches it.
--   wrk -t2 -c128 -d10s -s bench/page_plain.lua http://127.0.0.1:8088
wrk.method = "GET"
wrk.path = os.getenv("FG_PATH") or "/p/phone-x"
