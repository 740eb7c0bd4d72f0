-- /v1/plan in adversarial mode with 2 iterations. The endpoint lands with a later issue;
-- until then the harness probes it first and reports the scenario as "not available".
-- When it lands, check this body against docs/API.md.
local report = dofile((os.getenv("BENCH_WRK_DIR") or "bench/wrk") .. "/report.lua")
report.setup_request(
  '{"model":"' .. report.model() .. '","mode":"adversarial","iterations":2,' ..
  '"messages":[{"role":"user","content":"Plan a three-step rollout of a config change."}]}')
