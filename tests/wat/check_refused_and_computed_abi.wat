;; Attacks the loader's report: a forbidden import hides a second fault, an ABI version that is computed rather than constant, which only running the module reveals; `hongbao check` must report both.
(module
  (import "env" "clock" (func $clock (result i64)))
  (memory (export "memory") 1)
  (func (export "hongbao_abi_version") (result i32) (i32.add (i32.const 1) (i32.const 2)))
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))
