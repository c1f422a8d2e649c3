;; Attacks verdict combination: divides by zero on every call, so the rule never answers.
(module
  (memory (export "memory") 2)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param $p i32) (param $l i32) (result i64)
    (drop (i32.div_u (local.get $l) (i32.sub (local.get $p) (local.get $p))))
    i64.const 0)
  (func (export "hongbao_payout") (param $p i32) (param $l i32) (result i64)
    (drop (i32.div_u (local.get $l) (i32.sub (local.get $p) (local.get $p))))
    i64.const 0))
