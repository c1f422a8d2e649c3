;; Attacks the native stack: recurses a million levels deep, calling the host's log import at every level.
(module
  (import "hongbao" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "deeper")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func $down (param $n i32) (result i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (call $log (i32.const 0) (i32.const 16) (i32.const 6))
    (i32.add (i32.const 1) (call $down (i32.sub (local.get $n) (i32.const 1)))))
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (drop (call $down (i32.const 1000000)))
    i64.const 0))
