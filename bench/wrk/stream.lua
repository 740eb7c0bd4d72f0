-- The same short chat request, streamed (the upstream answers with 20 content chunks).
local report = dofile((os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/report.lua")
report.setup_request(
  '{"model":"' .. report.model() .. '","max_tokens":64,"stream":true,' ..
  '"messages":[{"role":"system","content":"You are a helpful assistant."},' ..
  '{"role":"user","content":"Say hello to the benchmark in one short sentence."}]}')
