;; Attacks the loader: a start function that never ends, in a module also refused for its import; the start runs at load under the call limits, is stopped, and both faults are reported.
(module
  (import "env" "clock" (func $clock (result i64)))
  (memory (export "memory") 1)
  (func $spin (loop $l (br $l)))
  (start $spin)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))
