-- A short non-streaming chat request (OpenAI Chat Completions), the gateway's common case.
local report = dofile((os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/report.lua")
report.setup_request(
  '{"model":"' .. report.model() .. '","max_tokens":64,' ..
  '"messages":[{"role":"system","content":"You are a helpful assistant."},' ..
  '{"role":"user","content":"Say hello to the benchmark in one short sentence."}]}')
