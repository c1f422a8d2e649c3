;; Attacks versioning: a well-formed rule whose hongbao_abi_version returns 3, a version this host does not speak (it speaks 1 and 2).
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 3)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 33))))
