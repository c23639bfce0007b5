-- wrk script: POST /items with a small JSON body (every request creates an item).
wrk.method = "POST"
wrk.body = '{"name":"bench","price":1.5,"tags":["a","b"]}'
wrk.headers["Content-Type"] = "application/json"
