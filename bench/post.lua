-- wrk script: every request is a POST of the body in the WRK_BODY environment variable, with the
-- Content-Type in WRK_CONTENT_TYPE (JSON by default). The URL given to wrk picks the path.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or "[[0.0]]"
wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE") or "application/json"
wrk.headers["Accept"] = "application/json"
