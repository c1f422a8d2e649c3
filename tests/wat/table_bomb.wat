;; Attacks host memory through tables: grows a table to ten million elements.
(module
  (memory (export "memory") 2)
  (table $t 1 funcref)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (drop (table.grow $t (ref.null func) (i32.const 10000000)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 33))))
