;; Attacks output parsing (ABI section 6, case R01): answers a decision and an error at once,
;; {"verdict":"allow","reason":"ok","error":"settings.max is required"}; it is neither a decision
;; nor an error, so it must be a bad-output failure, never read as allow.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\",\"error\":\"settings.max is required\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 68))))
