;; Attacks the table limit at load: declares a funcref table of 20,000 initial elements, twice the default
;; table_elements_max; refused at load naming the limit, and loads (and allows) under a per-rule 20,000.
(module
  (memory (export "memory") 2)
  (table 20000 funcref)
  (data (i32.const 16) "{\"verdict\":\"allow\",\"reason\":\"ok\"}")
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "hongbao_claim") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 33))))
