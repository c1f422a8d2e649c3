;; Checks output reading honours the guest's pointer: a valid deny verdict placed at offset 40000, not 0.
(module
  (memory (export "memory") 2)
  (data (i32.const 0) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (data (i32.const 40000) "{\"verdict\":\"deny\",\"reason\":\"at_offset\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 40000) (i64.const 32)) (i64.const 39))))
