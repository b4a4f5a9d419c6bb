-- wrk script: countdown pollers of the activity status JSON.
--   wrk -t2 -c128 -d10s -s bench/status.lua http://127.0.0.1:8088
wrk.method = "GET"
wrk.path = os.getenv("FG_PATH") or "/api/activities/sale/status"
