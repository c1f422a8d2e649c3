;; Attacks the import contract: imports hongbao.log with the wrong signature, and hongbao.secret, which does not exist.
(module
  (import "hongbao" "log" (func $log (param i64)))
  (import "hongbao" "secret" (func $secret (result i32)))
  (memory (export "memory") 1)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))
