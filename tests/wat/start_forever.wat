;; Attacks load-time liveness: a start function that never returns, in an otherwise valid rule; it runs at load under the rule's call limits and must be stopped by fuel or the deadline, refusing the rule.
(module
  (memory (export "memory") 1)
  (func $spin (loop $l (br $l)))
  (start $spin)
  (func (export "hongbao_abi_version") (result i32) i32.const 1)
  (func (export "hongbao_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "hongbao_claim") (param i32 i32) (result i64) i64.const 0))
