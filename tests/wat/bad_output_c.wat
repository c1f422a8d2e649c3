;; Attacks output reading: returns a pointer past the end of the 32-bit space (ptr 0xFFFFFFF0, len 0x20).
(module
  (memory (export "memory") 2)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 0xFFFFFFF0) (i64.const 32)) (i64.const 0x20))))
