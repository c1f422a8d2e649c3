;; Attacks the loader's report: one module with a fault of every static kind (imports, exports, signatures, memory, table, ABI version), so `hongbao check` must list them all in one run.
(module
  (import "env" "secret" (func $secret (result i32)))
  (import "hongbao" "log" (func $log (param i64)))
  (memory (export "memory") 300)
  (table 20000 funcref)
  (func (export "hongbao_abi_version") (result i32) i32.const 7)
  (func (export "hongbao_claim") (param i32) (result i32) i32.const 0))
