;; Attacks per-rule limits (case R04): a busy loop of 2,400,000 iterations, about 60% of the default
;; fuel_per_call of 20,000,000, then allows with reason burned. It must complete under the default.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"burned\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (local $n i32)
    (local.set $n (i32.const 2400000))
    (loop $again
      (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 37))))
