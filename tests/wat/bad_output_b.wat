;; Attacks output reading: returns a valid pointer with a 4 GiB length (ptr 16, len 0xFFFFFFFF).
(module
  (memory (export "memory") 2)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 0xFFFFFFFF))))
