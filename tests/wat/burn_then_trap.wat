;; Attacks fuel accounting on failure (case S11): burns most of the default fuel_per_call in a busy loop
;; of 3,600,000 iterations (about 90%), then hits `unreachable`; the fuel it burned must be recorded.
(module
  (memory (export "memory") 2)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (local $n i32)
    (local.set $n (i32.const 3600000))
    (loop $again
      (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    unreachable))
