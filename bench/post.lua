-- wrk script: every request is a POST of the body in the WRK_BODY environment variable,
-- sent as JSON. The URL given to wrk picks the path (/invocations for every server here).
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or "[[0.0]]"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
