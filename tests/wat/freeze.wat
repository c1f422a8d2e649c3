;; Scripted verdict, not an attack: answers freeze to every claim and payout, so the money
;; tests can drive the freeze row of the verdict table through a real sandboxed rule.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"freeze\",\"reason\":\"scripted_freeze\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func $out (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
  (func (export "hongbao_claim") (param i32 i32) (result i64) (call $out (i32.const 16) (i32.const 47)))
  (func (export "hongbao_payout") (param i32 i32) (result i64) (call $out (i32.const 16) (i32.const 47))))
