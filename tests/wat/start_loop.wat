;; Attacks instantiation limits (case S02): its start function loops 1,000 times before any hook runs,
;; which must fit in the call's budget. Allows with reason started_1000 only if the start ran to the end.
(module
  (memory (export "memory") 2)
  (global $count (mut i32) (i32.const 0))
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"started_1000\"}")
  (data (i32.const 64) "{\"verdict\":\"deny\",\"reason\":\"start_not_run\"}")
  (func $start
    (loop $again
      (global.set $count (i32.add (global.get $count) (i32.const 1)))
      (br_if $again (i32.lt_u (global.get $count) (i32.const 1000)))))
  (start $start)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func $out (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (if (result i64) (i32.eq (global.get $count) (i32.const 1000))
      (then (call $out (i32.const 16) (i32.const 43)))
      (else (call $out (i32.const 64) (i32.const 43))))))
